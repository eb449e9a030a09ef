"""The real-server sessions the end-to-end tests share (a file needing another kind of
client -- settings, initialization options, a stand-in analysis -- defines its own)."""

from __future__ import annotations

import asyncio

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from lsp_client import SERVER, TIMEOUT, make_client


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def client(lsp_client: LanguageClient):
    """`python -m mcls serve`, initialised as VS Code (UTF-16 positions)."""
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def client_utf8(lsp_client: LanguageClient):
    """Initialised as Neovim 0.11, which negotiates UTF-8 positions."""
    result = await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("neovim@v0.11.0")))
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def raw(lsp_client: LanguageClient):
    """Started, not initialised: the test drives the whole session."""
    yield

//! Zed extension for mcls: starts `mcls serve` (found on PATH, or set with
//! `lsp.mcls.binary.path` in Zed's settings) for LaTeX and Markdown files.

use zed_extension_api::{self as zed, serde_json, settings::LspSettings, LanguageServerId, Result};

struct Mcls;

impl zed::Extension for Mcls {
    fn new() -> Self {
        Mcls
    }

    fn language_server_command(&mut self, id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.binary);
        let path = binary
            .as_ref()
            .and_then(|b| b.path.clone())
            .or_else(|| worktree.which("mcls"))
            .ok_or_else(|| {
                "mcls not found on PATH: install it with `pip install mcls`, or set lsp.mcls.binary.path in Zed's settings"
                    .to_string()
            })?;
        let args = binary
            .as_ref()
            .and_then(|b| b.arguments.clone())
            .unwrap_or_else(|| vec!["serve".to_string()]);
        Ok(zed::Command { command: path, args, env: worktree.shell_env() })
    }

    fn language_server_initialization_options(
        &mut self,
        id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<serde_json::Value>> {
        // Zed shows Markdown hovers but no TeX math: Unicode math unless the user says otherwise.
        let user = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.initialization_options);
        Ok(Some(user.unwrap_or_else(|| serde_json::json!({ "hoverFormat": "unicode" }))))
    }

    fn language_server_workspace_configuration(
        &mut self,
        id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<serde_json::Value>> {
        let settings = LspSettings::for_worktree(id.as_ref(), worktree).ok().and_then(|s| s.settings);
        Ok(Some(serde_json::json!({ "mcls": settings.unwrap_or_else(|| serde_json::json!({})) })))
    }
}

zed::register_extension!(Mcls);

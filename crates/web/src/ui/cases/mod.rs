//! The test repository pages: the suite tree with its cases (filters, reorder, bulk edit,
//! import and export), a case, its editor and history, custom fields, shared steps, files, and
//! the automated tests without a case. One module per page; the helpers they share are here.

mod attachments;
mod automated;
mod case;
mod editor;
mod fields;
mod history;
mod repository;
mod shared;

use super::PageCsrf;
use super::pages::{self, Chrome, form_error, render, when};
use crate::AppState;
use crate::extract::{CsrfForm, PageAuth};
use askama::Template;
pub(crate) use attachments::read_upload;
pub use attachments::*;
pub use automated::*;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
pub use case::*;
pub use editor::*;
pub use fields::*;
pub use history::*;
pub use repository::*;
use serde::Deserialize;
pub use shared::*;
use std::collections::BTreeMap;
use testvault_core::cases::{
    BulkEdit, CaseAutomation, CasePatch, CaseQuery, CaseView, DiffLine, FieldView, Step, SuiteNode,
    VersionView, fields::FIELD_KINDS, model,
};
use testvault_core::{CoreError, Principal, ProjectView};
use testvault_domain::Permission;
use uuid::Uuid;

use super::form::{Pairs, all, first};

async fn project_and_orgs(
    state: &AppState,
    p: &Principal,
    slug: &str,
) -> Result<(ProjectView, Vec<testvault_core::OrgView>), CoreError> {
    let project = state
        .core
        .get_project(p.allow(Permission::ReadProjects)?, slug)
        .await?;
    let orgs = state.core.my_orgs(p).await?;
    Ok((project, orgs))
}

struct SuiteItem {
    id: String,
    name: String,
    path: String,
    depth: usize,
    position: i64,
    parent: String,
    selected: bool,
    /// Among its siblings: can it move up / down?
    first: bool,
    last: bool,
}

fn suite_items(nodes: &[SuiteNode], selected: &str) -> Vec<SuiteItem> {
    nodes
        .iter()
        .map(|n| {
            let siblings: Vec<&SuiteNode> = nodes.iter().filter(|s| s.parent == n.parent).collect();
            SuiteItem {
                id: n.id.to_string(),
                name: n.name.clone(),
                path: n.path.clone(),
                depth: n.depth,
                position: n.position,
                parent: n.parent.map(|p| p.to_string()).unwrap_or_default(),
                selected: n.id.to_string() == selected,
                first: siblings.first().is_some_and(|s| s.id == n.id),
                last: siblings.last().is_some_and(|s| s.id == n.id),
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// A case key as it goes back into a link or redirect: `T` + its 8 hex digits, whatever the
/// client wrote (never raw input in a `Location` header).
pub(crate) fn key_in_path(raw: &str) -> String {
    testvault_core::cases::parse_case_key(raw)
        .map(|k| format!("T{k}"))
        .unwrap_or_default()
}

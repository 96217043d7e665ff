//! One case: its content rendered, files, automated tests and manual verdicts.

#[allow(unused_imports)]
use super::*;

struct FieldItem {
    name: String,
    text: String,
}

struct StepItem {
    number: usize,
    action: String,
    expected: String,
    /// The shared steps it comes from, if any.
    shared: String,
}

struct LinkItem {
    test: i64,
    suite: String,
    name: String,
    how: &'static str,
    run: String,
    outcome: String,
    at: String,
}

struct ManualItem {
    run: i64,
    title: String,
    outcome: String,
    by: String,
    at: String,
    final_verdict: bool,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    slug: String,
    project_name: String,
    case: CaseView,
    description_html: String,
    preconditions_html: String,
    steps: Vec<StepItem>,
    fields: Vec<FieldItem>,
    links: Vec<LinkItem>,
    manual: Vec<ManualItem>,
    files: Vec<testvault_core::cases::attachments::AttachmentView>,
    can_write: bool,
    created: String,
    updated: String,
    notice: String,
}

#[derive(Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: String,
}

fn steps_html(steps: &[testvault_core::cases::ExpandedStep]) -> Vec<StepItem> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepItem {
            number: i + 1,
            action: crate::markdown::render(&s.action),
            expected: crate::markdown::render(&s.expected),
            shared: s.shared_title.clone().unwrap_or_default(),
        })
        .collect()
}

pub async fn show(
    State(state): State<AppState>,
    PageAuth(p): PageAuth,
    PageCsrf(csrf): PageCsrf,
    Path((slug, key)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let loaded = async {
        let (project, orgs) = project_and_orgs(&state, &p, &slug).await?;
        let read = || p.allow(Permission::ReadProjects);
        let case = state.core.get_case(read()?, &slug, &key).await?;
        let automation: CaseAutomation = state.core.case_automation(read()?, &slug, &key).await?;
        let files = state.core.case_attachments(read()?, &slug, &key).await?;
        Ok::<_, CoreError>((project, orgs, case, automation, files))
    }
    .await;
    match loaded {
        Ok((project, orgs, case, automation, files)) => render(
            StatusCode::OK,
            &CasePage {
                chrome: Chrome::app(
                    &format!("T{} {} · {}", case.key, case.title, project.name),
                    "projects",
                    &csrf,
                    &p,
                    orgs,
                ),
                can_write: p.can_in(Permission::WriteCases, project.id),
                slug: project.slug,
                project_name: project.name,
                description_html: crate::markdown::render(&case.description),
                preconditions_html: crate::markdown::render(&case.preconditions),
                steps: steps_html(&case.expanded),
                fields: case
                    .fields
                    .iter()
                    .map(|f| FieldItem {
                        name: f.name.clone(),
                        text: f.text.clone(),
                    })
                    .collect(),
                links: automation
                    .tests
                    .into_iter()
                    .map(|t| LinkItem {
                        test: t.test,
                        suite: t.suite,
                        name: t.name,
                        how: t.how,
                        run: t.last_run.map(|n| n.to_string()).unwrap_or_default(),
                        outcome: t.last_outcome.unwrap_or_default(),
                        at: t.last_at.map(when).unwrap_or_default(),
                    })
                    .collect(),
                manual: automation
                    .manual
                    .into_iter()
                    .map(|m| ManualItem {
                        run: m.run,
                        title: m.run_title,
                        outcome: m.outcome,
                        by: m.executed_by.unwrap_or_default(),
                        at: m.executed_at.map(when).unwrap_or_default(),
                        final_verdict: m.final_verdict,
                    })
                    .collect(),
                files,
                created: when(case.created_at),
                updated: when(case.updated_at),
                notice: q.notice,
                case,
            },
        ),
        Err(e) => pages::error_page(e.into()),
    }
}

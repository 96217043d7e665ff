#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Roles and project grants over the real server, on SQLite and PostgreSQL: custom roles apply on
//! the member's next request, nobody hands out what they lack, the org keeps an owner, and a
//! member below manager sees only the projects granted to them — in lists, pages and lookups.

use serde_json::json;
use testvault_testkit::{Backend, Client, TestApp, on_both_backends};

on_both_backends!(
    grants_decide_which_projects_a_member_sees,
    custom_roles_apply_on_the_next_request,
    nobody_grants_beyond_their_own_permissions,
    a_project_manager_by_grant_manages_only_that_project,
    roles_and_access_work_from_the_pages
);

const PASSWORD: &str = "a long and unusual passphrase";

async fn user_id(c: &Client) -> String {
    c.get("/api/v1/me").await.json()["data"]["user"]
        .as_str()
        .expect("user id")
        .to_string()
}

async fn project(owner: &Client, slug: &str) {
    let r = owner
        .post_json(
            "/api/v1/projects",
            &json!({ "slug": slug, "name": slug.to_uppercase(), "description": format!("{slug} secret") }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn set_role(actor: &Client, user: &str, role: &str) -> testvault_testkit::Resp {
    actor
        .put_json(
            &format!("/api/v1/members/{user}/role"),
            &json!({ "role": role }),
        )
        .await
}

async fn grants_decide_which_projects_a_member_sees(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    project(&owner, "web").await;
    project(&owner, "api").await;
    let max = app.add_member(&owner, "max@acme.test", PASSWORD).await;
    let max_id = user_id(&max).await;

    // No grant: no project, in the list, by slug, on the page; the count says zero.
    let list = max.get("/api/v1/projects").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()["data"], json!([]));
    assert_eq!(max.get("/api/v1/projects/web").await.status, 404);
    let page = max.get("/projects/web").await;
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("web secret"));
    let projects_page = max.get("/projects").await;
    assert!(!projects_page.body.contains("WEB") && !projects_page.body.contains("API"));
    // A personal token sees what its user sees, grants included, as of each request.
    let token = max
        .post_json(
            "/api/v1/tokens",
            &json!({ "name": "laptop", "scopes": ["read"] }),
        )
        .await
        .json()["data"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let by_token = |path: &'static str| {
        let (c, token) = (app.client(), token.clone());
        async move {
            let req = c
                .http
                .get(c.url(path))
                .header("authorization", format!("Bearer {token}"));
            c.send(req).await.status
        }
    };
    assert_eq!(by_token("/api/v1/projects/web").await, 404);

    // A tester grant on web: web only, with tester powers there.
    let g = owner
        .put_json(
            &format!("/api/v1/projects/web/access/{max_id}"),
            &json!({ "role": "tester" }),
        )
        .await;
    assert_eq!(g.status, 204, "{}", g.body);
    let list = max.get("/api/v1/projects").await.json();
    let slugs: Vec<_> = list["data"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["slug"].clone())
        .collect();
    assert_eq!(slugs, vec![json!("web")]);
    assert_eq!(max.get("/api/v1/projects/api").await.status, 404);
    assert_eq!(by_token("/api/v1/projects/web").await, 200);
    assert_eq!(by_token("/api/v1/projects/api").await, 404);
    let me = max.get("/api/v1/me").await.json();
    assert_eq!(me["data"]["project_grants"][0]["role"], "tester");
    assert!(
        me["data"]["permissions"]
            .as_array()
            .expect("perms")
            .contains(&json!("execute_runs"))
    );

    // The owner sees who has access; revoking takes effect on the next request.
    let access = owner.get("/api/v1/projects/web/access").await.json();
    assert_eq!(access["data"][0]["email"], "max@acme.test");
    assert_eq!(
        owner
            .delete(&format!("/api/v1/projects/web/access/{max_id}"))
            .await
            .status,
        204
    );
    assert_eq!(max.get("/api/v1/projects/web").await.status, 404);
    assert_eq!(by_token("/api/v1/projects/web").await, 404);
    assert_eq!(
        owner
            .delete(&format!("/api/v1/projects/web/access/{max_id}"))
            .await
            .status,
        404,
        "revoking twice finds nothing"
    );

    // Promoted to manager (covers all projects): everything, no grant needed.
    assert_eq!(set_role(&owner, &max_id, "manager").await.status, 200);
    let list = max.get("/api/v1/projects").await.json();
    assert_eq!(list["data"].as_array().expect("list").len(), 2);

    // Every change is in the audit trail.
    let audit = owner.get("/api/v1/audit?limit=50").await.json().to_string();
    for action in [
        "project.access_granted",
        "project.access_revoked",
        "member.role_changed",
    ] {
        assert!(audit.contains(action), "audit lacks {action}");
    }
}

async fn custom_roles_apply_on_the_next_request(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    project(&owner, "web").await;
    let ada = app.add_member(&owner, "ada@acme.test", PASSWORD).await;
    let ada_id = user_id(&ada).await;

    let created = owner
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Auditor", "permissions": ["read_projects", "all_projects", "read_audit"] }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let role_id = created.json()["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        created.json()["data"]["permissions"],
        json!(["read_projects", "all_projects", "read_audit"])
    );
    // Names are unique per org (case-insensitively) and may not shadow a built-in role.
    let dup = owner
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "auditor", "permissions": ["read_projects"] }),
        )
        .await;
    assert_eq!(dup.status, 409);
    let shadow = owner
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Owner", "permissions": ["read_projects"] }),
        )
        .await;
    assert_eq!(shadow.status, 422);
    let unknown = owner
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Pilot", "permissions": ["fly_planes"] }),
        )
        .await;
    assert_eq!(unknown.status, 422);

    assert_eq!(ada.get("/api/v1/audit").await.status, 403);
    let assigned = set_role(&owner, &ada_id, &role_id).await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);
    assert_eq!(assigned.json()["data"]["name"], "Auditor");
    // Next request: the role's permissions, all projects included.
    assert_eq!(ada.get("/api/v1/audit").await.status, 200);
    assert_eq!(ada.get("/api/v1/projects/web").await.status, 200);
    assert_eq!(
        ada.get("/api/v1/me").await.json()["data"]["role"],
        "Auditor"
    );

    // Editing the role changes what its members can do on their next request.
    let edited = owner
        .put_json(
            &format!("/api/v1/roles/{role_id}"),
            &json!({ "name": "Reader", "permissions": ["read_projects"] }),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(ada.get("/api/v1/audit").await.status, 403);
    assert_eq!(
        ada.get("/api/v1/projects/web").await.status,
        404,
        "all_projects was removed"
    );
    assert_eq!(ada.get("/api/v1/me").await.json()["data"]["role"], "Reader");

    // A role in use cannot be deleted; once nobody holds it, it can.
    let in_use = owner.delete(&format!("/api/v1/roles/{role_id}")).await;
    assert_eq!(in_use.status, 409);
    let roles = owner.get("/api/v1/roles").await.json();
    assert_eq!(roles["data"][0]["members"], 1);
    assert_eq!(set_role(&owner, &ada_id, "viewer").await.status, 200);
    assert_eq!(
        owner
            .delete(&format!("/api/v1/roles/{role_id}"))
            .await
            .status,
        204
    );
    assert_eq!(
        owner
            .delete(&format!("/api/v1/roles/{role_id}"))
            .await
            .status,
        404
    );

    let audit = owner.get("/api/v1/audit?limit=50").await.json().to_string();
    for action in ["role.created", "role.updated", "role.deleted"] {
        assert!(audit.contains(action), "audit lacks {action}");
    }
    // The catalogue explains every permission and every level.
    let catalogue = ada.get("/api/v1/permissions").await.json();
    assert_eq!(
        catalogue["data"]["permissions"]
            .as_array()
            .expect("perms")
            .len(),
        18
    );
    assert_eq!(
        catalogue["data"]["builtin_roles"][0]["permissions"],
        json!(["read_projects"])
    );
}

async fn nobody_grants_beyond_their_own_permissions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    let owner_id = user_id(&owner).await;
    let mia = app.add_member(&owner, "mia@acme.test", PASSWORD).await;
    let mia_id = user_id(&mia).await;
    let bob = app.add_member(&owner, "bob@acme.test", PASSWORD).await;
    let bob_id = user_id(&bob).await;

    // A viewer changes nobody's role.
    assert_eq!(set_role(&mia, &bob_id, "tester").await.status, 403);

    // A manager manages members up to manager, never owners, and never roles.
    assert_eq!(set_role(&owner, &mia_id, "manager").await.status, 200);
    assert_eq!(set_role(&mia, &bob_id, "engineer").await.status, 200);
    assert_eq!(set_role(&mia, &bob_id, "owner").await.status, 422);
    assert_eq!(
        set_role(&mia, &owner_id, "viewer").await.status,
        422,
        "cannot demote an owner"
    );
    assert_eq!(
        set_role(&mia, &mia_id, "owner").await.status,
        422,
        "cannot promote herself"
    );
    let invite = mia
        .post_json(
            "/api/v1/invitations",
            &json!({ "email": "o@acme.test", "role": "owner" }),
        )
        .await;
    assert_eq!(invite.status, 422);
    let role = mia
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Lead", "permissions": ["read_projects"] }),
        )
        .await;
    assert_eq!(role.status, 403);

    // A custom role with role management but without audit access cannot hand audit out.
    let admin = owner
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "People admin", "permissions": ["read_projects", "manage_members", "manage_roles"] }),
        )
        .await
        .json()["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(set_role(&owner, &mia_id, &admin).await.status, 200);
    let beyond = mia
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Snoop", "permissions": ["read_audit"] }),
        )
        .await;
    assert_eq!(beyond.status, 422, "{}", beyond.body);
    assert!(beyond.body.contains("read_audit"));
    let within = mia
        .post_json(
            "/api/v1/roles",
            &json!({ "name": "Reader", "permissions": ["read_projects"] }),
        )
        .await;
    assert_eq!(within.status, 201);
    // Editing her own role upwards is the same escalation.
    let escalate = mia
        .put_json(
            &format!("/api/v1/roles/{admin}"),
            &json!({ "name": "People admin", "permissions": ["read_projects", "manage_members", "manage_roles", "read_audit"] }),
        )
        .await;
    assert_eq!(escalate.status, 422);
    assert_eq!(
        set_role(&mia, &bob_id, "engineer").await.status,
        422,
        "engineer holds write_cases, which she lacks"
    );

    // The org always keeps an owner.
    let last = set_role(&owner, &owner_id, "manager").await;
    assert_eq!(last.status, 409, "{}", last.body);
    assert!(last.body.contains("owner"));
    assert_eq!(
        owner.get("/api/v1/me").await.json()["data"]["role"],
        "owner"
    );
    // Unknown members and roles are 404s.
    let ghost = uuid::Uuid::new_v4().to_string();
    assert_eq!(set_role(&owner, &ghost, "viewer").await.status, 404);
    assert_eq!(set_role(&owner, &bob_id, &ghost).await.status, 404);
}

async fn a_project_manager_by_grant_manages_only_that_project(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    project(&owner, "web").await;
    project(&owner, "api").await;
    let lead = app.add_member(&owner, "lead@acme.test", PASSWORD).await;
    let lead_id = user_id(&lead).await;
    let dev = app.add_member(&owner, "dev@acme.test", PASSWORD).await;
    let dev_id = user_id(&dev).await;
    let g = owner
        .put_json(
            &format!("/api/v1/projects/web/access/{lead_id}"),
            &json!({ "role": "manager" }),
        )
        .await;
    assert_eq!(g.status, 204);

    // On web the lead grants up to manager; the grant's project part of owner is manager's.
    let g = lead
        .put_json(
            &format!("/api/v1/projects/web/access/{dev_id}"),
            &json!({ "role": "engineer" }),
        )
        .await;
    assert_eq!(g.status, 204, "{}", g.body);
    assert_eq!(dev.get("/api/v1/projects/web").await.status, 200);
    assert_eq!(lead.get("/api/v1/projects/web/access").await.status, 200);
    // Elsewhere the project does not exist for the lead.
    let g = lead
        .put_json(
            &format!("/api/v1/projects/api/access/{dev_id}"),
            &json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(g.status, 404);
    assert_eq!(lead.get("/api/v1/projects/api/access").await.status, 404);
    // A project grant is not an org role.
    assert_eq!(lead.get("/api/v1/members").await.status, 403);
    assert_eq!(set_role(&lead, &dev_id, "tester").await.status, 403);
    // A non-member cannot be granted; a grant goes away with the membership's role change only
    // when revoked, so the lead can also take it back.
    let ghost = uuid::Uuid::new_v4().to_string();
    let g = lead
        .put_json(
            &format!("/api/v1/projects/web/access/{ghost}"),
            &json!({ "role": "viewer" }),
        )
        .await;
    assert_eq!(g.status, 404);
    assert_eq!(
        lead.delete(&format!("/api/v1/projects/web/access/{dev_id}"))
            .await
            .status,
        204
    );
    assert_eq!(dev.get("/api/v1/projects/web").await.status, 404);
}

async fn roles_and_access_work_from_the_pages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.setup_owner().await;
    project(&owner, "web").await;
    let max = app.add_member(&owner, "max@acme.test", PASSWORD).await;
    let max_id = user_id(&max).await;

    let page = owner.get("/roles").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("manage_keys") && page.body.contains("New custom role"));
    let created = owner
        .post_form(
            "/roles",
            &[
                ("name", "QA lead"),
                ("permissions", "read_projects"),
                ("permissions", "all_projects"),
                ("permissions", "comment"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let roles = owner.get("/api/v1/roles").await.json();
    assert_eq!(
        roles["data"][0]["permissions"],
        json!(["read_projects", "comment", "all_projects"])
    );
    let role_id = roles["data"][0]["id"].as_str().expect("id").to_string();
    let bad = owner
        .post_form("/roles", &[("name", ""), ("permissions", "comment")])
        .await;
    assert_eq!(bad.status, 422);

    // The members page assigns it; the member's next page shows it.
    let members = owner.get("/members").await;
    assert!(
        members
            .body
            .contains(&format!("action=\"/members/{max_id}/role\""))
    );
    let changed = owner
        .post_form(
            &format!("/members/{max_id}/role"),
            &[("role", role_id.as_str())],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert!(max.get("/projects").await.body.contains("QA lead"));
    assert_eq!(max.get("/roles").await.status, 403);
    assert!(!max.get("/projects").await.body.contains("href=\"/roles\""));

    // The project page grants and removes access.
    assert_eq!(set_role(&owner, &max_id, "viewer").await.status, 200);
    assert_eq!(max.get("/projects/web").await.status, 404);
    let web = owner.get("/projects/web").await;
    assert!(web.body.contains("Grant access") && web.body.contains("max@acme.test"));
    let granted = owner
        .post_form(
            "/projects/web/access",
            &[("user", max_id.as_str()), ("role", "tester")],
        )
        .await;
    assert_eq!(granted.status, 303, "{}", granted.body);
    assert_eq!(max.get("/projects/web").await.status, 200);
    let revoked = owner
        .post_form(&format!("/projects/web/access/{max_id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(max.get("/projects/web").await.status, 404);
    // Deleting from the page.
    let deleted = owner
        .post_form(&format!("/roles/{role_id}/delete"), &[])
        .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(owner.get("/api/v1/roles").await.json()["data"], json!([]));
}

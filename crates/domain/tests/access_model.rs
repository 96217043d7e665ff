//! State-machine property test of the access rules (`access.rs`, `permission.rs`).
//!
//! These rules decide who may change roles and grants, so a mistake in them hands out permissions
//! nobody meant to give. This test runs random sequences of role and grant changes through the
//! domain's pure checks and compares every decision with a reference model. The model is written
//! from the rules as stated in words (the tier lists and the "may do in a project" sentence below),
//! not from the implementation. The two can then agree only if both are right, or if both misread
//! the same sentence. That is why the model is kept short enough to read against the words.
//!
//! After every step it also compares, for every member, permission and project, what the member
//! may do in the project, whether they see it, and what they hold at org level.

use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use std::collections::BTreeMap;
use testvault_domain::access::{check_assignment, check_grant, check_role_change};
use testvault_domain::{
    Access, CustomRole, MemberRole, Permission, PermissionSet, ProjectId, Refusal, Role, RoleId,
};

/// Small enough that random actors often hit the same member, project and role. Large enough for
/// an actor, a target and a bystander with different levels.
const MEMBERS: usize = 4;
const PROJECTS: usize = 3;
const ROLE_SLOTS: usize = 3;

// ---------------------------------------------------------------------------------------------
// The reference model, from the rules in words.
// ---------------------------------------------------------------------------------------------

/// A set of permissions in the model: one flag per permission (indexed by the enum's value, 0 to
/// 17), printed as the names it holds. It does not use the domain's `PermissionSet`, so a bug
/// there cannot hide in both. It is flat rather than a `BTreeSet` because the test asks hundreds
/// of questions per step in a debug build, and allocating sets made the run almost twice as slow.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Perms([bool; Permission::ALL.len()]);

impl Perms {
    fn of(list: impl IntoIterator<Item = Permission>) -> Perms {
        let mut set = Perms::default();
        for x in list {
            set.0[x as usize] = true;
        }
        set
    }

    fn has(self, x: Permission) -> bool {
        self.0[x as usize]
    }

    fn set(&mut self, x: Permission, on: bool) {
        self.0[x as usize] = on;
    }

    fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |x| self.has(*x))
    }

    fn union(self, other: Perms) -> Perms {
        Perms::of(self.iter().chain(other.iter()))
    }

    fn within(self, held: Perms) -> bool {
        self.iter().all(|x| held.has(x))
    }
}

impl std::fmt::Debug for Perms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What each built-in level adds to the one below it (levels are cumulative).
const VIEWER_HAS: &[Permission] = &[Permission::ReadProjects];
const TESTER_ADDS: &[Permission] = &[Permission::ExecuteRuns, Permission::Comment];
const ENGINEER_ADDS: &[Permission] = &[Permission::WriteCases, Permission::ReportResults];
const MANAGER_ADDS: &[Permission] = &[
    Permission::ManagePlans,
    Permission::DeleteRuns,
    Permission::ManageProjectMembers,
    Permission::AllProjects,
    Permission::ManageProjects,
    Permission::ManageMembers,
    Permission::ManageOrgSettings,
    Permission::ManageTokens,
];
const OWNER_ADDS: &[Permission] = &[
    Permission::ManageRoles,
    Permission::ManageSessions,
    Permission::ManageSecurity,
    Permission::ReadAudit,
    Permission::ManageKeys,
];

/// The permissions about one project's contents. Every other permission is org-level.
const PROJECT_SCOPED: &[Permission] = &[
    Permission::ReadProjects,
    Permission::ExecuteRuns,
    Permission::Comment,
    Permission::WriteCases,
    Permission::ReportResults,
    Permission::ManagePlans,
    Permission::DeleteRuns,
    Permission::ManageProjectMembers,
];

fn model_scoped(x: Permission) -> bool {
    PROJECT_SCOPED.contains(&x)
}

/// Only the project-scoped members of `set`.
fn scoped_part(set: Perms) -> Perms {
    Perms::of(set.iter().filter(|x| model_scoped(*x)))
}

/// Everything a built-in level grants: its own tier plus every tier below it.
fn model_level(level: Role) -> Perms {
    let tiers: &[&[Permission]] = match level {
        Role::Viewer => &[VIEWER_HAS],
        Role::Tester => &[VIEWER_HAS, TESTER_ADDS],
        Role::Engineer => &[VIEWER_HAS, TESTER_ADDS, ENGINEER_ADDS],
        Role::Manager => &[VIEWER_HAS, TESTER_ADDS, ENGINEER_ADDS, MANAGER_ADDS],
        Role::Owner => &[
            VIEWER_HAS,
            TESTER_ADDS,
            ENGINEER_ADDS,
            MANAGER_ADDS,
            OWNER_ADDS,
        ],
    };
    Perms::of(tiers.iter().flat_map(|t| t.iter().copied()))
}

/// A member's org role in the model: a built-in level or the custom role in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrgRole {
    Builtin(Role),
    Custom(usize),
}

#[derive(Debug, Clone)]
struct ModelMember {
    role: OrgRole,
    /// Project index to the level granted there: at most one grant per project by construction.
    grants: BTreeMap<usize, Role>,
}

/// The model's view of one member, with roles resolved to permission sets.
struct ModelAccess {
    org: Perms,
    grants: [Option<Perms>; PROJECTS],
}

impl ModelAccess {
    /// Inside project `p`: a project-scoped `x` through the org role when the role also reaches all
    /// projects, or through a grant on `p`. Org-level permissions never apply inside a project.
    fn may_in(&self, x: Permission, p: usize) -> bool {
        if !model_scoped(x) {
            return false;
        }
        let via_org = self.org.has(x) && self.org.has(Permission::AllProjects);
        let via_grant = self.grants[p].is_some_and(|g| g.has(x));
        via_org || via_grant
    }

    fn in_project(&self, p: usize) -> Perms {
        Perms::of(Permission::ALL.into_iter().filter(|x| self.may_in(*x, p)))
    }

    fn sees(&self, p: usize) -> bool {
        self.may_in(Permission::ReadProjects, p)
    }

    /// The org role has `x`, or `x` is project-scoped and some grant's level has it.
    fn holds(&self, x: Permission) -> bool {
        self.org.has(x) || (model_scoped(x) && self.grants.iter().flatten().any(|g| g.has(x)))
    }
}

#[derive(Debug, Clone)]
struct Model {
    members: Vec<ModelMember>,
    /// Custom roles by slot; `None` is a free slot. Slots are used rather than a list so that
    /// deleting a role does not renumber the others, which members and later steps refer to.
    roles: [Option<Perms>; ROLE_SLOTS],
    /// The model's decision on the step just applied. The system under test compares its own
    /// decision with this, because the runner passes it the model's state after the step and not
    /// the decision itself.
    last_accepted: Option<bool>,
}

impl Model {
    fn role_perms(&self, role: OrgRole) -> Perms {
        match role {
            OrgRole::Builtin(level) => model_level(level),
            OrgRole::Custom(slot) => self.roles[slot].unwrap_or_default(),
        }
    }

    fn access(&self, m: usize) -> ModelAccess {
        let member = &self.members[m];
        let mut grants = [None; PROJECTS];
        for (p, level) in &member.grants {
            grants[*p] = Some(model_level(*level));
        }
        ModelAccess {
            org: self.role_perms(member.role),
            grants,
        }
    }

    fn role_in_use(&self, slot: usize) -> bool {
        self.members.iter().any(|m| m.role == OrgRole::Custom(slot))
    }

    /// The rules for changes, as stated: the actor needs the gate permission, and both the set
    /// before and the set after must lie within what the actor has.
    fn decide(&self, step: &Step) -> bool {
        match step {
            Step::CreateRole { actor, perms, .. } => {
                let a = self.access(*actor);
                a.org.has(Permission::ManageRoles) && perms.within(a.org)
            }
            Step::EditRole { actor, slot, perms } => {
                let a = self.access(*actor);
                a.org.has(Permission::ManageRoles)
                    && self.role_perms(OrgRole::Custom(*slot)).within(a.org)
                    && perms.within(a.org)
            }
            Step::DeleteRole { actor, slot } => {
                let a = self.access(*actor);
                a.org.has(Permission::ManageRoles)
                    && self.role_perms(OrgRole::Custom(*slot)).within(a.org)
            }
            Step::AssignRole {
                actor,
                target,
                role,
            } => {
                let a = self.access(*actor);
                a.org.has(Permission::ManageMembers)
                    && self.role_perms(self.members[*target].role).within(a.org)
                    && self.role_perms(*role).within(a.org)
            }
            Step::Grant {
                actor,
                target,
                project,
                level,
            } => {
                let old = self.members[*target].grants.get(project).copied();
                self.grant_allowed(*actor, *project, old, Some(*level))
            }
            Step::RevokeGrant {
                actor,
                target,
                project,
            } => {
                let old = self.members[*target].grants.get(project).copied();
                self.grant_allowed(*actor, *project, old, None)
            }
        }
    }

    fn grant_allowed(&self, actor: usize, p: usize, old: Option<Role>, new: Option<Role>) -> bool {
        let a = self.access(actor);
        let can = a.in_project(p);
        let carried = |level: Option<Role>| scoped_part(level.map(model_level).unwrap_or_default());
        a.may_in(Permission::ManageProjectMembers, p)
            && carried(old).within(can)
            && carried(new).within(can)
    }
}

/// One change attempted by `actor`. Indices are members, projects and custom-role slots.
#[derive(Debug, Clone)]
enum Step {
    CreateRole {
        actor: usize,
        slot: usize,
        perms: Perms,
    },
    EditRole {
        actor: usize,
        slot: usize,
        perms: Perms,
    },
    DeleteRole {
        actor: usize,
        slot: usize,
    },
    AssignRole {
        actor: usize,
        target: usize,
        role: OrgRole,
    },
    Grant {
        actor: usize,
        target: usize,
        project: usize,
        level: Role,
    },
    RevokeGrant {
        actor: usize,
        target: usize,
        project: usize,
    },
}

impl Step {
    fn actor(&self) -> usize {
        match self {
            Step::CreateRole { actor, .. }
            | Step::EditRole { actor, .. }
            | Step::DeleteRole { actor, .. }
            | Step::AssignRole { actor, .. }
            | Step::Grant { actor, .. }
            | Step::RevokeGrant { actor, .. } => *actor,
        }
    }
}

fn any_level() -> impl Strategy<Value = Role> {
    proptest::sample::select(Role::ALL.to_vec())
}

/// Permission sets for custom roles. A uniformly random set almost never lies within a
/// non-owner's permissions, so most sets are made near a boundary where "within the actor's
/// permissions" flips: a built-in level with one permission added or removed, or part of what some
/// member holds now (so that members with custom roles that include `manage_roles` can make
/// accepted changes too).
fn any_perms(state: &Model) -> BoxedStrategy<Perms> {
    let from_bits = |bits: u32| {
        Perms::of(
            Permission::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, x)| x),
        )
    };
    let random = any::<u32>().prop_map(from_bits);
    let near_level = (
        any_level(),
        proptest::sample::select(Permission::ALL.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(level, x, add)| {
            let mut set = model_level(level);
            set.set(x, add);
            set
        });
    let held: Vec<Perms> = state
        .members
        .iter()
        .map(|m| state.role_perms(m.role))
        .collect();
    let part_of_held = (proptest::sample::select(held), any::<u32>())
        .prop_map(move |(set, bits)| Perms::of(set.iter().filter(|x| from_bits(bits).has(*x))));
    prop_oneof![1 => random, 3 => near_level, 3 => part_of_held].boxed()
}

struct AccessMachine;

impl ReferenceStateMachine for AccessMachine {
    type State = Model;
    type Transition = Step;

    /// Member 0 owns the org, so at first someone can always make changes. The others get random
    /// levels and random grants, so grant-only access exists from the first step.
    fn init_state() -> BoxedStrategy<Model> {
        let member = |first: bool| {
            let level = if first {
                Just(Role::Owner).boxed()
            } else {
                any_level().boxed()
            };
            let grants = proptest::collection::vec(proptest::option::of(any_level()), PROJECTS);
            (level, grants).prop_map(|(level, grants)| ModelMember {
                role: OrgRole::Builtin(level),
                grants: grants
                    .into_iter()
                    .enumerate()
                    .filter_map(|(p, g)| g.map(|g| (p, g)))
                    .collect(),
            })
        };
        let members: Vec<_> = (0..MEMBERS).map(|m| member(m == 0)).collect();
        members
            .prop_map(|members| Model {
                members,
                roles: Default::default(),
                last_accepted: None,
            })
            .boxed()
    }

    /// Generates only steps that make sense in `state` (existing roles and grants), so
    /// generation never has to reject. `preconditions` repeats these checks for shrinking, which
    /// drops earlier steps.
    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let member = || 0..MEMBERS;
        let project = || 0..PROJECTS;
        let free: Vec<usize> = (0..ROLE_SLOTS)
            .filter(|s| state.roles[*s].is_none())
            .collect();
        let existing: Vec<usize> = (0..ROLE_SLOTS)
            .filter(|s| state.roles[*s].is_some())
            .collect();
        let unused: Vec<usize> = existing
            .iter()
            .copied()
            .filter(|s| !state.role_in_use(*s))
            .collect();
        let granted: Vec<(usize, usize)> = state
            .members
            .iter()
            .enumerate()
            .flat_map(|(m, mm)| mm.grants.keys().map(move |p| (m, *p)))
            .collect();

        let mut roles = vec![any_level().prop_map(OrgRole::Builtin).boxed()];
        if !existing.is_empty() {
            roles.push(
                proptest::sample::select(existing.clone())
                    .prop_map(OrgRole::Custom)
                    .boxed(),
            );
        }
        let any_role = Union::new(roles);

        let mut arms: Vec<(u32, BoxedStrategy<Step>)> = vec![
            (
                4,
                (member(), member(), any_role)
                    .prop_map(|(actor, target, role)| Step::AssignRole {
                        actor,
                        target,
                        role,
                    })
                    .boxed(),
            ),
            (
                5,
                (member(), member(), project(), any_level())
                    .prop_map(|(actor, target, project, level)| Step::Grant {
                        actor,
                        target,
                        project,
                        level,
                    })
                    .boxed(),
            ),
        ];
        if !free.is_empty() {
            arms.push((
                2,
                (member(), proptest::sample::select(free), any_perms(state))
                    .prop_map(|(actor, slot, perms)| Step::CreateRole { actor, slot, perms })
                    .boxed(),
            ));
        }
        if !existing.is_empty() {
            arms.push((
                2,
                (
                    member(),
                    proptest::sample::select(existing),
                    any_perms(state),
                )
                    .prop_map(|(actor, slot, perms)| Step::EditRole { actor, slot, perms })
                    .boxed(),
            ));
        }
        if !unused.is_empty() {
            arms.push((
                1,
                (member(), proptest::sample::select(unused))
                    .prop_map(|(actor, slot)| Step::DeleteRole { actor, slot })
                    .boxed(),
            ));
        }
        if !granted.is_empty() {
            arms.push((
                2,
                (member(), proptest::sample::select(granted))
                    .prop_map(|(actor, (target, project))| Step::RevokeGrant {
                        actor,
                        target,
                        project,
                    })
                    .boxed(),
            ));
        }
        Union::new_weighted(arms).boxed()
    }

    /// A role in use is never deleted: the store refuses that before any access rule is asked.
    /// Such steps are therefore kept out rather than modelled.
    fn preconditions(state: &Model, step: &Step) -> bool {
        let exists = |slot: usize| slot < ROLE_SLOTS && state.roles[slot].is_some();
        match step {
            Step::CreateRole { slot, .. } => *slot < ROLE_SLOTS && state.roles[*slot].is_none(),
            Step::EditRole { slot, .. } => exists(*slot),
            Step::DeleteRole { slot, .. } => exists(*slot) && !state.role_in_use(*slot),
            Step::AssignRole {
                role: OrgRole::Custom(slot),
                ..
            } => exists(*slot),
            Step::AssignRole { .. } | Step::Grant { .. } => true,
            Step::RevokeGrant {
                target, project, ..
            } => state.members[*target].grants.contains_key(project),
        }
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        let accepted = state.decide(step);
        state.last_accepted = Some(accepted);
        if !accepted {
            return state;
        }
        match step {
            Step::CreateRole { slot, perms, .. } | Step::EditRole { slot, perms, .. } => {
                state.roles[*slot] = Some(*perms);
            }
            Step::DeleteRole { slot, .. } => state.roles[*slot] = None,
            Step::AssignRole { target, role, .. } => state.members[*target].role = *role,
            Step::Grant {
                target,
                project,
                level,
                ..
            } => {
                state.members[*target].grants.insert(*project, *level);
            }
            Step::RevokeGrant {
                target, project, ..
            } => {
                state.members[*target].grants.remove(project);
            }
        }
        state
    }
}

// ---------------------------------------------------------------------------------------------
// The system under test: domain types and the domain's checks, with its own bookkeeping.
// ---------------------------------------------------------------------------------------------

/// A member's org role as a store would keep it: a level or a custom role's id. It is resolved to
/// the role's current permissions whenever an `Access` is built, so that editing a role reaches
/// its holders, as it does when core reloads a member.
#[derive(Debug, Clone, Copy)]
enum StoredRole {
    Builtin(Role),
    Custom(RoleId),
}

struct System {
    projects: [ProjectId; PROJECTS],
    roles: [Option<CustomRole>; ROLE_SLOTS],
    members: Vec<StoredRole>,
    grants: Vec<BTreeMap<ProjectId, Role>>,
    /// Whether the last step changed anything (see `check_invariants`).
    changed: bool,
}

impl System {
    fn custom_by_id(&self, id: RoleId) -> &CustomRole {
        let Some(role) = self.roles.iter().flatten().find(|r| r.id == id) else {
            panic!("custom role {id} is held but no longer exists");
        };
        role
    }

    fn custom(&self, slot: usize) -> &CustomRole {
        let Some(role) = self.roles[slot].as_ref() else {
            panic!("step names custom role slot {slot}, which is empty in the system");
        };
        role
    }

    fn member_role(&self, m: usize) -> MemberRole {
        match self.members[m] {
            StoredRole::Builtin(level) => MemberRole::Builtin(level),
            StoredRole::Custom(id) => MemberRole::Custom(self.custom_by_id(id).clone()),
        }
    }

    fn access(&self, m: usize) -> Access {
        Access::new(
            self.member_role(m).permissions(),
            self.grants[m].iter().map(|(p, r)| (*p, *r)),
        )
    }

    /// A member as a failure message should show it: project indices rather than random ids, and
    /// permission names rather than the bit set's number.
    fn describe(&self, m: usize) -> String {
        let role = match self.members[m] {
            StoredRole::Builtin(level) => format!("{level:?}"),
            StoredRole::Custom(id) => {
                let slot = self
                    .roles
                    .iter()
                    .position(|r| r.as_ref().is_some_and(|r| r.id == id));
                format!("custom role in slot {slot:?}")
            }
        };
        let grants: BTreeMap<usize, Role> = self
            .projects
            .iter()
            .enumerate()
            .filter_map(|(pi, p)| self.grants[m].get(p).map(|r| (pi, *r)))
            .collect();
        let org = from_set(self.member_role(m).permissions());
        format!("member {m}: org role {role} = {org:?}, grants by project {grants:?}")
    }

    fn stored(&self, role: OrgRole) -> StoredRole {
        match role {
            OrgRole::Builtin(level) => StoredRole::Builtin(level),
            OrgRole::Custom(slot) => StoredRole::Custom(self.custom(slot).id),
        }
    }

    fn stored_permissions(&self, role: StoredRole) -> PermissionSet {
        match role {
            StoredRole::Builtin(level) => MemberRole::Builtin(level).permissions(),
            StoredRole::Custom(id) => self.custom_by_id(id).permissions,
        }
    }
}

fn to_set(perms: Perms) -> PermissionSet {
    PermissionSet::of(perms.iter())
}

fn from_set(set: PermissionSet) -> Perms {
    Perms::of(set.iter())
}

/// A refusal must name a permission that really is the problem, so that its message does not
/// mislead. `Lacks` must name the gate permission, and the actor must really lack it. `Beyond`
/// must name a permission that the change touches and that the actor really does not hold
/// (`held`, in the model's terms).
fn check_refusal(
    step: &Step,
    refusal: Refusal,
    gate: Permission,
    gate_held: bool,
    touched: Perms,
    held: Perms,
) {
    match refusal {
        Refusal::Lacks(p) => assert!(
            p == gate && !gate_held,
            "refusal reason disagrees on {step:?}: Lacks({p:?}), but the gate is {gate:?} and the \
             model says the actor holds it: {gate_held}"
        ),
        Refusal::Beyond(p) => assert!(
            touched.has(p) && !held.has(p),
            "refusal reason disagrees on {step:?}: Beyond({p:?}), but the change touches \
             {touched:?} and the actor holds {held:?}"
        ),
    }
}

impl StateMachineTest for AccessMachine {
    type SystemUnderTest = System;
    type Reference = AccessMachine;

    fn init_test(model: &Model) -> System {
        let projects = [(); PROJECTS].map(|()| ProjectId::new());
        System {
            projects,
            roles: Default::default(),
            members: model
                .members
                .iter()
                .map(|m| match m.role {
                    OrgRole::Builtin(level) => StoredRole::Builtin(level),
                    OrgRole::Custom(_) => panic!("the model starts with no custom roles"),
                })
                .collect(),
            grants: model
                .members
                .iter()
                .map(|m| m.grants.iter().map(|(p, r)| (projects[*p], *r)).collect())
                .collect(),
            changed: true,
        }
    }

    /// Asks the domain the question that the step poses, with `Access` built from the system's
    /// own state, and requires the model's answer. `model` is the model *after* the step. When
    /// both refuse, it is unchanged and can still explain the refusal.
    fn apply(mut sys: System, model: &Model, step: Step) -> System {
        let Some(expected) = model.last_accepted else {
            panic!("the model recorded no decision for {step:?}");
        };
        let actor = sys.access(step.actor());
        let actor_was = sys.describe(step.actor());
        let decision = match &step {
            Step::CreateRole { perms, .. } => check_role_change(&actor, None, Some(to_set(*perms))),
            Step::EditRole { slot, perms, .. } => check_role_change(
                &actor,
                Some(sys.custom(*slot).permissions),
                Some(to_set(*perms)),
            ),
            Step::DeleteRole { slot, .. } => {
                check_role_change(&actor, Some(sys.custom(*slot).permissions), None)
            }
            Step::AssignRole { target, role, .. } => check_assignment(
                &actor,
                Some(sys.stored_permissions(sys.members[*target])),
                sys.stored_permissions(sys.stored(*role)),
            ),
            Step::Grant {
                target,
                project,
                level,
                ..
            } => {
                let p = sys.projects[*project];
                check_grant(
                    &actor,
                    p,
                    sys.grants[*target].get(&p).copied(),
                    Some(*level),
                )
            }
            Step::RevokeGrant {
                target, project, ..
            } => {
                let p = sys.projects[*project];
                check_grant(&actor, p, sys.grants[*target].get(&p).copied(), None)
            }
        };
        assert_eq!(
            decision.is_ok(),
            expected,
            "decision disagrees on {step:?}: domain said {decision:?}, model says {}; actor was \
             {actor_was}",
            if expected { "accept" } else { "refuse" },
        );

        if let Err(refusal) = decision {
            let a = model.access(step.actor());
            let (gate, gate_held, touched, held) = match &step {
                Step::CreateRole { perms, .. } => {
                    let gate = Permission::ManageRoles;
                    (gate, a.org.has(gate), *perms, a.org)
                }
                Step::EditRole { slot, perms, .. } => {
                    let gate = Permission::ManageRoles;
                    let touched = model.role_perms(OrgRole::Custom(*slot)).union(*perms);
                    (gate, a.org.has(gate), touched, a.org)
                }
                Step::DeleteRole { slot, .. } => {
                    let gate = Permission::ManageRoles;
                    let touched = model.role_perms(OrgRole::Custom(*slot));
                    (gate, a.org.has(gate), touched, a.org)
                }
                Step::AssignRole { target, role, .. } => {
                    let gate = Permission::ManageMembers;
                    let touched = model
                        .role_perms(model.members[*target].role)
                        .union(model.role_perms(*role));
                    (gate, a.org.has(gate), touched, a.org)
                }
                Step::Grant {
                    target, project, ..
                }
                | Step::RevokeGrant {
                    target, project, ..
                } => {
                    let gate = Permission::ManageProjectMembers;
                    let old = model.members[*target].grants.get(project).copied();
                    let new = match &step {
                        Step::Grant { level, .. } => Some(*level),
                        _ => None,
                    };
                    let level = |r: Option<Role>| r.map(model_level).unwrap_or_default();
                    let touched = scoped_part(level(old).union(level(new)));
                    (
                        gate,
                        a.may_in(gate, *project),
                        touched,
                        a.in_project(*project),
                    )
                }
            };
            check_refusal(&step, refusal, gate, gate_held, touched, held);
            sys.changed = false;
            return sys;
        }

        // Accepted: make the change, then check that nobody handed out what they lack. `actor` is
        // the actor's access from before the change, since the actor may be its own target.
        match &step {
            Step::CreateRole { slot, perms, .. } | Step::EditRole { slot, perms, .. } => {
                let (id, name) = match &sys.roles[*slot] {
                    Some(old) => (old.id, old.name.clone()),
                    None => (RoleId::new(), format!("custom {slot}")),
                };
                sys.roles[*slot] = Some(CustomRole {
                    id,
                    name,
                    permissions: to_set(*perms),
                });
                let outside = perms.iter().find(|x| !actor.org.contains(*x));
                assert_eq!(
                    outside, None,
                    "{step:?} accepted, but the role holds more than the actor"
                );
            }
            Step::DeleteRole { slot, .. } => sys.roles[*slot] = None,
            Step::AssignRole { target, role, .. } => {
                sys.members[*target] = sys.stored(*role);
                let after = sys.access(*target);
                let outside = Permission::ALL
                    .into_iter()
                    .find(|x| after.org.contains(*x) && !actor.org.contains(*x));
                assert_eq!(
                    outside, None,
                    "{step:?} accepted, but gave the target more than the actor holds"
                );
            }
            Step::Grant {
                target,
                project,
                level,
                ..
            } => {
                let p = sys.projects[*project];
                sys.grants[*target].insert(p, *level);
                let after = sys.access(*target);
                let Some(granted) = after.grants.get(&p) else {
                    panic!(
                        "{step:?} accepted, but the target has no grant on the project after it"
                    );
                };
                let outside = Permission::ALL.into_iter().find(|x| {
                    x.is_project_scoped() && granted.grants(*x) && !actor.allows_in(*x, p)
                });
                assert_eq!(
                    outside, None,
                    "{step:?} accepted, but the grant carries more than the actor may do in the \
                     project"
                );
            }
            Step::RevokeGrant {
                target, project, ..
            } => {
                sys.grants[*target].remove(&sys.projects[*project]);
            }
        }
        sys.changed = true;
        sys
    }

    /// For every member, permission and project, the domain's answers must be the model's.
    ///
    /// Skipped after a refused step: both states are then exactly as at the previous check and
    /// every function asked is pure, so the answers cannot differ. About half the steps are
    /// refused, and skipping them cuts the debug-build run time by about 40% without losing
    /// coverage.
    fn check_invariants(sys: &System, model: &Model) {
        if !sys.changed {
            return;
        }
        for m in 0..MEMBERS {
            let got = sys.access(m);
            let want = model.access(m);
            // Only formatted when an assertion fails.
            let who = || {
                format!(
                    "system has {}; model has {:?}",
                    sys.describe(m),
                    model.members[m]
                )
            };
            assert_eq!(
                from_set(got.org),
                want.org,
                "org permissions of member {m} disagree (domain left, model right); {}",
                who()
            );
            assert_eq!(
                got.covers_all_projects(),
                want.org.has(Permission::AllProjects),
                "covers_all_projects of member {m} disagrees (domain left, model right); {}",
                who()
            );
            for x in Permission::ALL {
                assert_eq!(
                    got.holds(x),
                    want.holds(x),
                    "holds({x:?}) of member {m} disagrees (domain left, model right); {}",
                    who()
                );
            }
            for (pi, p) in sys.projects.iter().enumerate() {
                let got_in = got.in_project(*p);
                for x in Permission::ALL {
                    let may = want.may_in(x, pi);
                    assert_eq!(
                        got.allows_in(x, *p),
                        may,
                        "allows_in({x:?}, project {pi}) of member {m} disagrees (domain left, \
                         model right); {}",
                        who()
                    );
                    assert_eq!(
                        got_in.contains(x),
                        may,
                        "in_project(project {pi}) of member {m} disagrees on {x:?} (domain left, \
                         model right); {}",
                        who()
                    );
                }
                assert_eq!(
                    got.sees_project(*p),
                    want.sees(pi),
                    "sees_project(project {pi}) of member {m} disagrees (domain left, model \
                     right); {}",
                    who()
                );
            }
        }
    }
}

prop_state_machine! {
    #![proptest_config(Config { cases: 2000, .. Config::default() })]

    /// Random sequences of 1 to 39 role and grant changes. Every decision, and every access
    /// question asked after each change, must agree with the model.
    #[test]
    fn access_rules_match_the_model(sequential 1..40 => AccessMachine);
}

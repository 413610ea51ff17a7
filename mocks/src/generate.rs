//! Synthetic tenants for benchmarks and scale tests.
//!
//! Hand-written tenants prove semantics; this generator proves that azpath copes with a large organisation,
//! in the shapes a real directory has:
//!
//! - a management-group tree with several subscriptions under each group, resource groups in each;
//! - users in several groups each (one department group, a few team groups: about
//!   [`GenerateOptions::memberships_per_user`] on average);
//! - department groups of thousands of members that hold Contributor or Owner at a subscription or management
//!   group, and many small team groups nested a few levels deep (team → team → department, never a cycle)
//!   that mostly hold roles on resource groups;
//! - service principals and managed identities with roles, application and group owners, GitHub federated
//!   credentials on some applications;
//! - custom roles, role assignments at every scope level (a handful at the tenant root), some PIM-eligible,
//!   some constrained by conditions, a few deny assignments and assignments to deleted principals;
//! - AKS clusters with their Kubernetes objects (namespaces, service accounts, RoleBindings to Entra groups,
//!   workload identities and ASO credentials: see [`crate::generate_kube`]), so Kubernetes paths exist at scale.
//!
//! Output depends only on the options (same seed → byte-identical snapshot), and generation is linear in the
//! requested size. [`TIERS`] names the sizes the benchmarks use; [`parse_size`] reads `--size`.

use azpath_graph::snapshot::{
    Application, ApplicationFederatedCredentials, AssignmentProperties, DenyAssignment, DenyAssignmentProperties,
    DirectoryObject, DirectoryRoleAssignment, DirectoryRoleDefinition, DirectoryRoleEligibilityScheduleInstance,
    DirectoryRolePermission, GraphFederatedCredential, Group, GroupMembers, ManagementGroup, ManagementGroupChild,
    ManagementGroupDetails, ManagementGroupProperties, ParentRef, Permission, PrincipalRef, ResourceGroup,
    RoleAssignment, RoleDefinition, RoleDefinitionProperties, RoleEligibilityScheduleInstance, ServicePrincipal,
    Subscription, User,
};

use crate::tenant::{MockTenant, TenantInfo};

/// What to generate. `GenerateOptions::default()` is a small organisation; [`GenerateOptions::sized`] scales
/// every part from one node count.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Users.
    pub users: usize,
    /// Security groups (nested: some groups are members of others), the department groups included.
    pub groups: usize,
    /// Department groups (the first groups): every user is in one, and each holds Contributor or Owner at a
    /// subscription and a role at a management group; at scale they have thousands of members.
    pub large_groups: usize,
    /// Groups a user is directly in, on average: one department group and the rest team groups.
    pub memberships_per_user: usize,
    /// Service principals (about a third are managed identities, the rest have an application object).
    pub service_principals: usize,
    /// Subscriptions.
    pub subscriptions: usize,
    /// Management groups below the tenant root group (which is always generated).
    pub management_groups: usize,
    /// Resource groups in each subscription.
    pub resource_groups_per_subscription: usize,
    /// Custom role definitions.
    pub custom_roles: usize,
    /// Active role assignments.
    pub role_assignments: usize,
    /// PIM-eligible assignments.
    pub eligible_assignments: usize,
    /// Deny assignments.
    pub deny_assignments: usize,
    /// AKS clusters with a Kubernetes dump each ([`crate::generate_kube`]).
    pub clusters: usize,
    /// Application namespaces per cluster.
    pub namespaces_per_cluster: usize,
    /// Seed: the same options and seed give the same tenant.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            users: 200,
            groups: 30,
            large_groups: 2,
            memberships_per_user: 4,
            service_principals: 40,
            subscriptions: 4,
            management_groups: 5,
            resource_groups_per_subscription: 4,
            custom_roles: 4,
            role_assignments: 150,
            eligible_assignments: 12,
            deny_assignments: 2,
            clusters: 1,
            namespaces_per_cluster: 10,
            seed: 1,
        }
    }
}

impl GenerateOptions {
    /// Options for a tenant of about `nodes` directory objects and scopes, in proportions typical of an
    /// enterprise: mostly users, a group per ~12 users, a service principal per ~15 users, a subscription per
    /// ~2,000 users, five groups per user, a department group per ~5,000 users. The graph has about 15% more
    /// nodes (identities, resources, Kubernetes objects) and about five edges per node at scale. See [`TIERS`].
    pub fn sized(nodes: usize, seed: u64) -> GenerateOptions {
        let nodes = nodes.max(20);
        let subscriptions = (nodes / 2_500).clamp(1, 2_000);
        let resource_groups_per_subscription = 5;
        let management_groups = (subscriptions / 8).clamp(2, 400);
        let scopes = subscriptions * (1 + resource_groups_per_subscription) + management_groups + 1;
        let rest = nodes.saturating_sub(scopes).max(10);
        let groups = (rest / 12).max(2);
        let service_principals = (rest / 15).max(2);
        // Applications are about two thirds of the service principals.
        let users = rest.saturating_sub(groups + service_principals + service_principals * 2 / 3).max(5);
        GenerateOptions {
            users,
            groups,
            large_groups: (users / 5_000).clamp(1, (groups / 4).max(1)),
            memberships_per_user: 5,
            service_principals,
            subscriptions,
            management_groups,
            resource_groups_per_subscription,
            custom_roles: (subscriptions / 10).clamp(3, 50),
            role_assignments: (nodes / 4).max(20),
            eligible_assignments: (nodes / 100).max(3),
            deny_assignments: (subscriptions / 20).max(1),
            // About one Kubernetes namespace per 50 nodes, on a cluster per four subscriptions.
            clusters: (subscriptions / 4).clamp(1, 250),
            namespaces_per_cluster: (nodes / 50 / (subscriptions / 4).clamp(1, 250)).clamp(5, 500),
            seed,
        }
    }
}

/// The named sizes of `--size` (`azpath bench`, `azpath mock generate`): (name, nodes, what it stands for).
/// The figures measured on them are in BENCHMARKS.md.
pub const TIERS: &[(&str, usize, &str)] = &[
    ("small", 2_000, "a team's tenant: ~1,600 users, one subscription, one AKS cluster"),
    ("company", 20_000, "an ordinary company: ~16,000 users, ~1,600 groups, 8 subscriptions, 2 AKS clusters"),
    ("enterprise", 300_000, "a large enterprise: ~240,000 users, 120 subscriptions, 30 AKS clusters"),
    ("1m", 1_000_000, "the largest tier: ~1.2M graph nodes, ~4.9M edges, 400 subscriptions, 100 AKS clusters"),
];

/// Reads a `--size`: a tier name of [`TIERS`], or a number with an optional `k` (thousand) or `m` (million)
/// suffix and `_` separators (`20000`, `20k`, `1_000_000`, `1m`).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    if let Some((_, nodes, _)) = TIERS.iter().find(|(name, ..)| *name == lower) {
        return Ok(*nodes);
    }
    let digits = lower.replace('_', "");
    let (number, factor) = match digits.strip_suffix('k') {
        Some(n) => (n, 1_000),
        None => digits.strip_suffix('m').map_or((digits.as_str(), 1), |n| (n, 1_000_000)),
    };
    let names: Vec<&str> = TIERS.iter().map(|(name, ..)| *name).collect();
    number.parse::<usize>().ok().and_then(|n| n.checked_mul(factor)).ok_or_else(|| {
        format!("`{text}` is not a size: give a number of nodes (20000, 20k, 1m) or a tier ({})", names.join(", "))
    })
}

/// The collection benchmark's tenants (`azpath mock generate --users`, `azpath bench collect --users`):
/// (name, users, what it stands for). Shaped like the tenant of issue 12 rather than scaled from a node count:
/// see [`GenerateOptions::for_collection`].
pub const COLLECTION_TIERS: &[(&str, usize, &str)] = &[
    ("collect-50k", 50_000, "50k users, 5k groups, 20k service principals, 100k role assignments, 50 subscriptions"),
    ("collect-100k", 100_000, "the same shape at 100k users"),
    ("collect-200k", 200_000, "the same shape at 200k users (where AzureHound starts dropping data)"),
    ("collect-400k", 400_000, "the same shape at 400k users: the largest collection tier"),
];

/// Reads a `--users`: a tier name of [`COLLECTION_TIERS`], or a number of users with an optional `k` or `m`
/// suffix (`50k`, `400000`).
pub fn parse_users(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    if let Some((_, users, _)) = COLLECTION_TIERS.iter().find(|(name, ..)| *name == lower) {
        return Ok(*users);
    }
    let names: Vec<&str> = COLLECTION_TIERS.iter().map(|(name, ..)| *name).collect();
    match parse_size(&lower) {
        Ok(n) if n > 0 && !TIERS.iter().any(|(name, ..)| *name == lower) => Ok(n),
        _ => Err(format!("`{text}` is not a number of users: give one (50000, 50k) or a tier ({})", names.join(", "))),
    }
}

impl GenerateOptions {
    /// Options for the collection benchmark's tenant of `users` users, in the proportions of issue 12's 50k
    /// tenant: a group per 10 users, 2 service principals per 5 users (a third managed identities, the others
    /// with an application, one application in eight with federated credentials), 2 role assignments per
    /// user, a subscription per 1,000 users, an AKS cluster per 10,000 users. [`generate_for_collection`] adds
    /// a user-assigned identity per 25 users.
    pub fn for_collection(users: usize, seed: u64) -> GenerateOptions {
        let users = users.max(10);
        let subscriptions = (users / 1_000).clamp(1, 2_000);
        GenerateOptions {
            users,
            groups: (users / 10).max(2),
            large_groups: (users / 5_000).clamp(1, 100),
            memberships_per_user: 5,
            service_principals: (users * 2 / 5).max(3),
            subscriptions,
            management_groups: (subscriptions / 8).clamp(2, 400),
            resource_groups_per_subscription: 5,
            custom_roles: (subscriptions / 5).clamp(3, 50),
            role_assignments: users * 2,
            eligible_assignments: (users / 100).max(3),
            deny_assignments: (subscriptions / 20).max(1),
            clusters: (users / 10_000).clamp(1, 40),
            namespaces_per_cluster: 20,
            seed,
        }
    }
}

/// A collection benchmark tenant of `users` users ([`GenerateOptions::for_collection`]), with a user-assigned
/// identity per 25 users (each the resource of one of the directory's managed-identity service principals, one
/// in four with a GitHub federated credential).
pub fn generate_for_collection(users: usize, seed: u64) -> MockTenant {
    let options = GenerateOptions::for_collection(users, seed);
    let mut t = generate(&options);
    add_user_assigned_identities(&mut t, options.users / 25);
    sort_by_id(&mut t);
    t
}

/// Up to `count` user-assigned identities for the managed-identity service principals that have none yet
/// (derived from positions: no random draw).
fn add_user_assigned_identities(t: &mut MockTenant, count: usize) {
    use azpath_graph::snapshot::{
        FederatedCredentialProperties, FederatedIdentityCredential, IdentityProperties, UserAssignedIdentity,
    };
    let existing: std::collections::HashSet<String> =
        t.azure.user_assigned_identities.iter().map(|m| m.id.to_ascii_lowercase()).collect();
    let tenant_id = t.info.tenant_id.clone();
    let managed = t
        .entra
        .service_principals
        .iter()
        .filter(|sp| sp.service_principal_type.as_deref() == Some("ManagedIdentity"))
        .filter_map(|sp| Some((sp, sp.alternative_names.get(1)?)))
        .filter(|(_, id)| !existing.contains(&id.to_ascii_lowercase()))
        .take(count);
    let (mut identities, mut credentials) = (Vec::new(), Vec::new());
    for (i, (sp, id)) in managed.enumerate() {
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        if i % 4 == 0 {
            credentials.push(FederatedIdentityCredential {
                id: format!("{id}/federatedIdentityCredentials/github-deploy"),
                name: "github-deploy".into(),
                properties: FederatedCredentialProperties {
                    issuer: "https://token.actions.githubusercontent.com".into(),
                    subject: format!("repo:contoso/{name}:environment:prod"),
                    audiences: vec!["api://AzureADTokenExchange".into()],
                },
            });
        }
        identities.push(UserAssignedIdentity {
            id: id.clone(),
            name,
            location: Some("westeurope".into()),
            properties: IdentityProperties {
                principal_id: Some(sp.id.clone()),
                client_id: sp.app_id.clone(),
                tenant_id: Some(tenant_id.clone()),
            },
        });
    }
    t.azure.user_assigned_identities.extend(identities);
    t.azure.federated_identity_credentials.extend(credentials);
}

/// SplitMix64: a tiny, good-enough mixer for deterministic ids and choices.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A random (version 4 shaped) GUID.
    pub(crate) fn guid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIRST: &[&str] = &[
    "Ava", "Ben", "Chloe", "Daniel", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keira", "Luis", "Maya",
    "Nikolai", "Olivia", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yara", "Zoe",
];
const LAST: &[&str] = &[
    "Andersen", "Baptiste", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jansen", "Kowalski",
    "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka", "Usman", "Varga",
];
const TEAMS: &[&str] = &[
    "Platform",
    "Payments",
    "Identity",
    "Data",
    "Web",
    "Mobile",
    "Security",
    "SRE",
    "Finance",
    "Analytics",
    "ML",
    "Networking",
    "Support",
    "QA",
    "Marketing",
];
const MG_NAMES: &[&str] = &["Platform", "Landing Zones", "Corp", "Online", "Sandbox", "Decommissioned", "Connectivity"];
const ENVS: &[&str] = &["prod", "staging", "dev", "test", "shared"];

/// Built-in roles the generator assigns, with a weight each.
const ROLES: &[(&str, u32)] = &[
    ("acdd72a7-3385-48ef-bd42-f606fba81ae7", 40), // Reader
    ("b24988ac-6180-42a0-ab88-20f7382dd24c", 25), // Contributor
    ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", 6),  // Owner
    ("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", 2),  // User Access Administrator
    ("f58310d9-a9f6-439a-9e8d-f62e7b41a168", 3),  // Role Based Access Control Administrator
    ("9980e02c-c2be-4d73-94e8-173b1dc7cf3c", 6),  // Virtual Machine Contributor
    ("4abbcc35-e782-43d8-92c5-2d3f1bd2253f", 5),  // AKS Cluster User Role
    ("0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8", 2),  // AKS Cluster Admin Role
    ("f1a07417-d97a-45cb-824c-7a7467783830", 3),  // Managed Identity Operator
    ("17d1049b-9a84-46fb-8f53-869881c3d3ab", 4),  // Storage Account Contributor
    ("00482a5a-887f-4fb3-b363-3b7fe8e74483", 3),  // Key Vault Administrator
];
/// The sum of the [`ROLES`] weights.
const ROLE_WEIGHT_TOTAL: u32 = {
    let (mut i, mut sum) = (0, 0);
    while i < ROLES.len() {
        sum += ROLES[i].1;
        i += 1;
    }
    sum
};
const RBAC_ADMIN: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

/// A role assignment to be written.
struct Grant {
    scope: String,
    role: String,
    condition: Option<String>,
    principal: String,
    kind: &'static str,
}

/// Generates a tenant. Linear in the sizes asked for: a few seconds for a million nodes, even in a debug build.
pub fn generate(options: &GenerateOptions) -> MockTenant {
    let mut g = Generator::new(options);
    // The order of the steps is the order of the random draws: changing it changes every generated tenant.
    g.scopes();
    g.users();
    g.groups();
    g.service_principals();
    g.sort_directory();
    g.memberships();
    g.custom_roles();
    g.role_assignments();
    g.deny_assignments();
    let Generator { mut t, mut rng, .. } = g;
    crate::generate_kube::add_clusters(&mut t, &mut rng, options.clusters, options.namespaces_per_cluster);
    entra_roles(&mut t);
    compute_identities(&mut t);
    sort_by_id(&mut t);
    t
}

/// Lists the large record lists in the order of a normalized snapshot (by id, ignoring ASCII case), so that
/// [`MockTenant::to_snapshot`]'s normalization finds them sorted: it compares lower-cased copies, which on
/// millions of unsorted memberships takes longer than generating them. Users, groups and service principals
/// are sorted as they are made, so each group's members come out in a few sorted runs.
/// Ids compared as a normalized snapshot compares them: ignoring ASCII case.
fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn sort_by_id(t: &mut MockTenant) {
    // Runs are merged in linear time; a shuffled list is sorted on cached keys (each record moved once).
    fn by<T>(v: &mut [T], id: impl Fn(&T) -> &str) {
        if !v.is_sorted_by(|a, b| id_order(id(a), id(b)).is_le()) {
            v.sort_by_cached_key(|x| id(x).to_ascii_lowercase());
        }
    }
    let (a, e) = (&mut t.azure, &mut t.entra);
    by(&mut a.resource_groups, |x| &x.id);
    by(&mut a.role_assignments, |x| &x.id);
    by(&mut a.role_eligibility_schedule_instances, |x| &x.id);
    by(&mut a.user_assigned_identities, |x| &x.id);
    by(&mut a.identity_resources, |x| &x.id);
    by(&mut a.federated_identity_credentials, |x| &x.id);
    by(&mut e.users, |x| &x.id);
    by(&mut e.groups, |x| &x.id);
    by(&mut e.group_members, |x| &x.group_id);
    for g in &mut e.group_members {
        g.members.sort_by(|a, b| id_order(&a.id, &b.id));
    }
    by(&mut e.service_principals, |x| &x.id);
    by(&mut e.applications, |x| &x.id);
    by(&mut e.application_federated_credentials, |x| &x.application_id);
}

/// One generation run: the tenant so far and what later steps pick from.
struct Generator<'a> {
    options: &'a GenerateOptions,
    rng: Rng,
    t: MockTenant,
    tenant_id: String,
    /// Ids of every management group, the root group included.
    mg_ids: Vec<String>,
    /// Subscription scopes (`/subscriptions/{id}`).
    scopes_sub: Vec<String>,
    /// GUIDs of the generated custom roles.
    custom_ids: Vec<String>,
}

const DOMAIN: &str = "contoso-synthetic.onmicrosoft.com";

fn mg_id(name: &str) -> String {
    format!("/providers/Microsoft.Management/managementGroups/{name}")
}

impl<'a> Generator<'a> {
    fn new(options: &'a GenerateOptions) -> Self {
        let mut rng = Rng(options.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
        let tenant_id = rng.guid();
        let t = MockTenant {
            info: TenantInfo {
                tenant_id: tenant_id.clone(),
                display_name: format!("Synthetic tenant (seed {})", options.seed),
                description: format!("Generated by azpath-mocks from {options:?}"),
            },
            ..Default::default()
        };
        Generator { options, rng, t, tenant_id, mg_ids: Vec::new(), scopes_sub: Vec::new(), custom_ids: Vec::new() }
    }

    /// Management groups (the tenant root group, then a random tree below it; parents point up), and
    /// subscriptions with their resource groups, each the child of a management group (stated on the group, as
    /// `$expand=children` shows).
    fn scopes(&mut self) {
        let (options, tenant_id) = (self.options, self.tenant_id.clone());
        let rng = &mut self.rng;
        let mut mgs = vec![ManagementGroup {
            id: mg_id(&tenant_id),
            name: tenant_id.clone(),
            properties: ManagementGroupProperties {
                display_name: Some("Tenant Root Group".into()),
                tenant_id: Some(tenant_id.clone()),
                ..Default::default()
            },
        }];
        for i in 0..options.management_groups {
            let parent = mgs[rng.below(mgs.len().min(1 + i / 2 + 1))].id.clone();
            let name = match MG_NAMES.get(i) {
                Some(n) => n.to_ascii_lowercase().replace(' ', "-"),
                None => format!("mg-{i:04}"),
            };
            let display = MG_NAMES.get(i).map_or_else(|| format!("Business unit {i}"), |n| (*n).to_string());
            mgs.push(ManagementGroup {
                id: mg_id(&name),
                name,
                properties: ManagementGroupProperties {
                    display_name: Some(display),
                    tenant_id: Some(tenant_id.clone()),
                    details: Some(ManagementGroupDetails { parent: Some(ParentRef { id: Some(parent) }) }),
                    children: None,
                },
            });
        }
        let t = &mut self.t;
        for i in 0..options.subscriptions {
            let sub_id = rng.guid();
            let display = format!("{}-{}-{i:03}", rng.pick(TEAMS).to_ascii_lowercase(), rng.pick(ENVS));
            let mg = rng.below(mgs.len());
            mgs[mg].properties.children.get_or_insert_with(Vec::new).push(ManagementGroupChild {
                id: format!("/subscriptions/{sub_id}"),
                kind: "/subscriptions".into(),
                name: sub_id.clone(),
                display_name: Some(display.clone()),
                children: None,
            });
            t.azure.subscriptions.push(Subscription {
                id: format!("/subscriptions/{sub_id}"),
                subscription_id: sub_id.clone(),
                display_name: Some(display),
                state: Some("Enabled".into()),
                tenant_id: Some(tenant_id.clone()),
            });
            for r in 0..options.resource_groups_per_subscription {
                let name = format!("rg-{}-{r:02}", rng.pick(TEAMS).to_ascii_lowercase());
                t.azure.resource_groups.push(ResourceGroup {
                    id: format!("/subscriptions/{sub_id}/resourceGroups/{name}"),
                    name,
                    location: Some(rng.pick(&["westeurope", "northeurope", "eastus2", "uksouth"]).to_string()),
                });
            }
            self.scopes_sub.push(format!("/subscriptions/{sub_id}"));
        }
        self.mg_ids = mgs.iter().map(|g| g.id.clone()).collect();
        t.azure.management_groups = mgs;
    }

    fn users(&mut self) {
        let rng = &mut self.rng;
        for i in 0..self.options.users {
            let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
            let guest = rng.chance(0.05);
            let (first_l, last_l) = (first.to_ascii_lowercase(), last.to_ascii_lowercase());
            self.t.entra.users.push(User {
                id: rng.guid().into(),
                display_name: Some(format!("{first} {last}").into()),
                user_principal_name: Some(if guest {
                    format!("{first_l}.{last_l}{i}_partner.example#EXT#@{DOMAIN}")
                } else {
                    format!("{first_l}.{last_l}{i}@{DOMAIN}")
                }),
                account_enabled: Some(!rng.chance(0.03)),
                user_type: Some(if guest { "Guest" } else { "Member" }.into()),
            });
        }
    }

    /// Department groups first (`sg-<team>-all-<i>`), then team groups.
    fn groups(&mut self) {
        let (rng, e) = (&mut self.rng, &mut self.t.entra);
        for i in 0..self.options.groups {
            let team = rng.pick(TEAMS).to_ascii_lowercase();
            let purpose =
                if i < self.options.large_groups { "all" } else { rng.pick(&["admins", "devs", "readers", "ops"]) };
            let group = Group {
                id: rng.guid(),
                display_name: Some(format!("sg-{team}-{purpose}-{i}")),
                security_enabled: Some(true),
                is_assignable_to_role: Some(rng.chance(0.05)),
                group_types: Vec::new(),
                membership_rule: None,
                // A third of the groups have an owner (no random draw, so the rest of the tenant is unchanged).
                owners: if i % 3 == 0 { owner_at(&e.users, i * 104_729) } else { Vec::new() },
            };
            e.groups.push(group);
        }
    }

    /// Service principals: every third a managed identity, the others applications with their registration.
    fn service_principals(&mut self) {
        let (rng, e) = (&mut self.rng, &mut self.t.entra);
        for i in 0..self.options.service_principals {
            let managed = i % 3 == 0;
            let app_id = rng.guid();
            let name = format!("{}-{}-{i}", rng.pick(TEAMS).to_ascii_lowercase(), if managed { "id" } else { "app" });
            let sp_id = rng.guid();
            let alternative_names = if managed {
                let sub = if self.scopes_sub.is_empty() {
                    "00000000-0000-0000-0000-000000000000".to_string()
                } else {
                    rng.pick(&self.scopes_sub).clone()
                };
                vec![
                    "isExplicit=True".into(),
                    format!("{sub}/resourcegroups/rg-identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"),
                ]
            } else {
                Vec::new()
            };
            e.service_principals.push(ServicePrincipal {
                id: sp_id,
                app_id: Some(app_id.clone()),
                display_name: Some(name.clone()),
                service_principal_type: Some(if managed { "ManagedIdentity" } else { "Application" }.into()),
                account_enabled: Some(true),
                alternative_names,
                app_owner_organization_id: (!managed).then(|| self.tenant_id.clone()),
                key_credentials: Vec::new(),
                password_credentials: Vec::new(),
                owners: Vec::new(),
                app_roles: Vec::new(),
            });
            if !managed {
                let app_object_id = rng.guid();
                if i % 8 == 2 {
                    e.application_federated_credentials.push(github_credential(&app_object_id, &name, rng));
                }
                e.applications.push(Application {
                    id: app_object_id,
                    app_id: Some(app_id),
                    display_name: Some(name),
                    sign_in_audience: Some("AzureADMyOrg".into()),
                    // Most applications have a developer as owner.
                    owners: if i % 4 != 1 { owner_at(&e.users, i * 7_919) } else { Vec::new() },
                    ..Default::default()
                });
            }
        }
    }

    /// Sorts users and service principals by id (no random draw), as a snapshot lists them; groups keep their
    /// order (departments first) until the end.
    fn sort_directory(&mut self) {
        let e = &mut self.t.entra;
        e.users.sort_by_cached_key(|u| u.id.to_ascii_lowercase());
        e.service_principals.sort_by_cached_key(|s| s.id.to_ascii_lowercase());
    }

    /// Users in their department group and a few team groups, every fourth service principal in a team group,
    /// and team groups nested a few levels deep: a team group of level `l` (1–3, by position) may be a member
    /// of a group of level `l - 1`, level 0 being the departments, so the membership graph has no cycle (the
    /// hand-written `nested-groups` tenant tests cycles).
    fn memberships(&mut self) {
        let n_groups = self.t.entra.groups.len();
        if n_groups == 0 {
            return;
        }
        let mut members: Vec<Vec<DirectoryObject>> = vec![Vec::new(); n_groups];
        let departments = self.options.large_groups.min(n_groups);
        let teams = n_groups - departments;
        let e = &self.t.entra;
        let rng = &mut self.rng;
        let extra = 2 * self.options.memberships_per_user.max(1) - 1;
        let mut chosen = Vec::new();
        for u in &e.users {
            chosen.clear();
            if departments > 0 {
                chosen.push(rng.below(departments));
            }
            for _ in 0..if teams > 0 { rng.below(extra) } else { 0 } {
                let g = departments + rng.below(teams);
                if !chosen.contains(&g) {
                    chosen.push(g);
                }
            }
            for &g in &chosen {
                members[g].push(member("#microsoft.graph.user", &u.id));
            }
        }
        for sp in e.service_principals.iter().step_by(4) {
            let g = if teams > 0 { departments + rng.below(teams) } else { rng.below(n_groups) };
            members[g].push(member("#microsoft.graph.servicePrincipal", &sp.id));
        }
        for t in 0..teams {
            if let Some(parent) = nesting_parent(t, departments, teams, rng) {
                members[parent].push(member("#microsoft.graph.group", &e.groups[departments + t].id));
            }
        }
        self.t.entra.group_members = members
            .into_iter()
            .enumerate()
            .filter(|(_, m)| !m.is_empty())
            .map(|(g, m)| GroupMembers { group_id: e.groups[g].id.clone(), members: m })
            .collect();
    }

    /// Custom roles, defined at a management group or subscription.
    fn custom_roles(&mut self) {
        let rng = &mut self.rng;
        for i in 0..self.options.custom_roles {
            let (name, actions, not_actions) = CUSTOM_ROLES[i % CUSTOM_ROLES.len()];
            let guid = rng.guid();
            let assignable = if i % 2 == 0 || self.scopes_sub.is_empty() {
                rng.pick(&self.mg_ids).clone()
            } else {
                rng.pick(&self.scopes_sub).clone()
            };
            let def_scope = if assignable.starts_with("/subscriptions/") { assignable.clone() } else { String::new() };
            self.t.azure.role_definitions.push(RoleDefinition {
                id: format!("{def_scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
                name: guid.clone(),
                properties: RoleDefinitionProperties {
                    role_name: if i < CUSTOM_ROLES.len() { name.to_string() } else { format!("{name} {i}") },
                    role_type: Some("CustomRole".into()),
                    description: Some(format!("Custom role {name}")),
                    permissions: vec![Permission {
                        actions: actions.iter().map(|s| s.to_string()).collect(),
                        not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
                        ..Default::default()
                    }],
                    assignable_scopes: vec![assignable],
                },
            });
            self.custom_ids.push(guid);
        }
    }

    /// Role assignments (then PIM eligibilities) at every level: first two per department group (Contributor
    /// or Owner at a subscription, a role at a management group), then groups (mostly on resource groups),
    /// service principals and users at every level, a handful at the tenant root.
    fn role_assignments(&mut self) {
        let options = self.options;
        let departments = (options.large_groups.min(self.t.entra.groups.len()) * 2).min(options.role_assignments / 2);
        for i in 0..options.role_assignments + options.eligible_assignments {
            let grant = if i < departments { self.department_grant(i) } else { self.random_grant() };
            self.push_assignment(grant, i >= options.role_assignments);
        }
    }

    /// The `i`-th department grant: even `i` Contributor (or Owner) at a subscription, odd `i` Reader,
    /// Contributor or Owner at a management group.
    fn department_grant(&mut self, i: usize) -> Grant {
        let rng = &mut self.rng;
        let group = self.t.entra.groups[i / 2].id.clone();
        let (scope, role) = if i.is_multiple_of(2) && !self.scopes_sub.is_empty() {
            (rng.pick(&self.scopes_sub).clone(), if rng.chance(0.2) { OWNER } else { CONTRIBUTOR })
        } else {
            let role = *rng.pick(&[READER, READER, CONTRIBUTOR, OWNER]);
            (rng.pick(&self.mg_ids).clone(), role)
        };
        Grant { scope, role: role.to_string(), condition: None, principal: group, kind: "Group" }
    }

    /// A grant to any principal, at a scope that fits its kind.
    fn random_grant(&mut self) -> Grant {
        let (principal, kind) = self.pick_principal();
        let scope = self.pick_scope(kind);
        let (role, condition) = self.pick_role();
        Grant { scope, role, condition, principal, kind }
    }

    fn push_assignment(&mut self, grant: Grant, eligible: bool) {
        let Grant { scope, role, condition, principal, kind } = grant;
        let name = self.rng.guid();
        let properties = AssignmentProperties {
            role_definition_id: role_definition_id(&scope, &role).into(),
            principal_id: principal.into(),
            principal_type: Some(kind.into()),
            condition_version: condition.as_ref().map(|_| "2.0".into()),
            condition: condition.map(Into::into),
            status: eligible.then(|| "Provisioned".into()),
            start_date_time: eligible.then(|| "2026-01-05T09:00:00Z".into()),
            member_type: eligible.then(|| "Direct".into()),
            scope: scope.as_str().into(),
            ..Default::default()
        };
        let base = if scope == "/" { String::new() } else { scope };
        let a = &mut self.t.azure;
        if eligible {
            a.role_eligibility_schedule_instances.push(RoleEligibilityScheduleInstance {
                id: format!("{base}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/{name}"),
                name,
                properties,
            });
        } else {
            a.role_assignments.push(RoleAssignment {
                id: format!("{base}/providers/Microsoft.Authorization/roleAssignments/{name}"),
                name,
                properties,
            });
        }
    }

    /// A built-in role by weight (Role Based Access Control Administrators mostly constrained to Reader), or
    /// now and then a custom one.
    fn pick_role(&mut self) -> (String, Option<String>) {
        let rng = &mut self.rng;
        if !self.custom_ids.is_empty() && rng.chance(0.1) {
            return (rng.pick(&self.custom_ids).clone(), None);
        }
        let mut x = (rng.next() % u64::from(ROLE_WEIGHT_TOTAL)) as u32;
        for (guid, w) in ROLES {
            if x < *w {
                let condition = (*guid == RBAC_ADMIN && rng.chance(0.7)).then(|| constrained_delegation(&[READER]));
                return ((*guid).to_string(), condition);
            }
            x -= w;
        }
        (READER.to_string(), None)
    }

    /// A scope for a grant to a principal of `kind` (`Group`, `ServicePrincipal`, `User`): groups mostly on
    /// resource groups, users more often on single resources; about three grants in all at the tenant root.
    fn pick_scope(&mut self, kind: &str) -> String {
        let total = self.options.role_assignments + self.options.eligible_assignments;
        let (rng, a) = (&mut self.rng, &self.t.azure);
        if a.subscriptions.is_empty() || rng.below(total.max(100)) < 3 {
            return "/".to_string();
        }
        // Percent thresholds: management group, subscription, resource group; the rest on a resource.
        let (mg, sub, rg) = match kind {
            "Group" => (4, 24, 92),
            "ServicePrincipal" => (3, 33, 83),
            _ => (3, 28, 70),
        };
        let roll = rng.below(100);
        if roll < mg {
            rng.pick(&self.mg_ids).clone()
        } else if roll < sub || a.resource_groups.is_empty() {
            rng.pick(&a.subscriptions).id.clone()
        } else if roll < rg {
            rng.pick(&a.resource_groups).id.clone()
        } else {
            let rg = rng.pick(&a.resource_groups).id.clone();
            let (provider, kind) = *rng.pick(&[
                ("Microsoft.KeyVault", "vaults"),
                ("Microsoft.ContainerService", "managedClusters"),
                ("Microsoft.Storage", "storageAccounts"),
                ("Microsoft.Compute", "virtualMachines"),
            ]);
            format!("{rg}/providers/{provider}/{kind}/res{:04}", rng.below(10_000))
        }
    }

    /// Groups and users mostly, then service principals, and now and then one that no longer exists in the
    /// directory.
    fn pick_principal(&mut self) -> (String, &'static str) {
        let (rng, e) = (&mut self.rng, &self.t.entra);
        let roll = rng.below(100);
        if roll < 2 {
            (rng.guid(), "User") // deleted principal: assigned, but gone from the directory
        } else if roll < 45 && !e.groups.is_empty() {
            (rng.pick(&e.groups).id.clone(), "Group")
        } else if roll < 75 && !e.service_principals.is_empty() {
            (rng.pick(&e.service_principals).id.clone(), "ServicePrincipal")
        } else if !e.users.is_empty() {
            (rng.pick(&e.users).id.to_string(), "User")
        } else {
            (rng.guid(), "User")
        }
    }

    /// Deny assignments: block writes for everyone but a break-glass principal, as blueprint/managed-app locks
    /// do.
    fn deny_assignments(&mut self) {
        let (rng, a, e) = (&mut self.rng, &mut self.t.azure, &self.t.entra);
        for i in 0..self.options.deny_assignments {
            if a.subscriptions.is_empty() {
                break;
            }
            let scope = if a.resource_groups.is_empty() || i % 2 == 0 {
                rng.pick(&a.subscriptions).id.clone()
            } else {
                rng.pick(&a.resource_groups).id.clone()
            };
            let name = rng.guid();
            let exclude = if e.users.is_empty() {
                Vec::new()
            } else {
                vec![PrincipalRef { id: rng.pick(&e.users).id.as_str().into(), kind: Some("User".into()) }]
            };
            a.deny_assignments.push(DenyAssignment {
                id: format!("{scope}/providers/Microsoft.Authorization/denyAssignments/{name}"),
                name,
                properties: DenyAssignmentProperties {
                    deny_assignment_name: Some(format!("Locked by managed application {i}")),
                    permissions: vec![Permission {
                        actions: vec!["*/write".into(), "*/delete".into()],
                        ..Default::default()
                    }],
                    scope: scope.into(),
                    do_not_apply_to_child_scopes: false,
                    principals: vec![PrincipalRef {
                        id: "00000000-0000-0000-0000-000000000000".into(),
                        kind: Some("SystemDefined".into()),
                    }],
                    exclude_principals: exclude,
                    is_system_protected: true,
                },
            });
        }
    }
}

/// The custom role templates: (name, actions, notActions).
const CUSTOM_ROLES: &[(&str, &[&str], &[&str])] = &[
    ("Contributor without RBAC", &["*"], &["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"]),
    (
        "VM Operator",
        &[
            "Microsoft.Compute/virtualMachines/start/action",
            "Microsoft.Compute/virtualMachines/restart/action",
            "Microsoft.Compute/virtualMachines/read",
        ],
        &[],
    ),
    ("Support Reader", &["*/read", "Microsoft.Support/*"], &[]),
    (
        "Identity Operator",
        &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        &[],
    ),
    ("Network Admin", &["Microsoft.Network/*", "Microsoft.Resources/deployments/*"], &[]),
];

/// A role definition id as assigned at `scope`: subscription-scoped below a subscription, tenant-wide above.
fn role_definition_id(scope: &str, guid: &str) -> String {
    let sub = scope.strip_prefix("/subscriptions/").and_then(|r| r.split('/').next());
    match sub {
        Some(sub) => format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
        None => format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
    }
}

/// The group team group `t` (of `teams`, after `departments` department groups) is nested in, if any: its level
/// is `1 + t % 3`, and with a chance of 0.3 its parent is a group one level up (a department for level 1).
fn nesting_parent(t: usize, departments: usize, teams: usize, rng: &mut Rng) -> Option<usize> {
    if !rng.chance(0.3) {
        return None;
    }
    let level = 1 + t % 3;
    if level == 1 {
        return (departments > 0).then(|| rng.below(departments));
    }
    // Team groups of level `level - 1` are those with `t % 3 == level - 2`.
    let first = level - 2;
    let count = teams.saturating_sub(first).div_ceil(3);
    (count > 0).then(|| departments + first + 3 * rng.below(count))
}

/// A GitHub Actions federated credential of an application (deployments from its repository's prod
/// environment), as `GET /applications/{id}/federatedIdentityCredentials` returns it.
fn github_credential(application_id: &str, name: &str, rng: &mut Rng) -> ApplicationFederatedCredentials {
    ApplicationFederatedCredentials {
        application_id: application_id.to_string(),
        credentials: vec![GraphFederatedCredential {
            id: rng.guid(),
            name: "github-prod".into(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: format!("repo:contoso/{name}:environment:prod"),
            audiences: vec!["api://AzureADTokenExchange".into()],
        }],
    }
}

fn member(kind: &str, id: &str) -> DirectoryObject {
    DirectoryObject { odata_type: Some(kind.into()), id: id.into(), ..Default::default() }
}

/// The "may assign only these roles" condition Azure's portal writes for constrained delegation.
pub(crate) fn constrained_delegation(roles: &[&str]) -> String {
    let list = roles.join(", ");
    format!(
        "((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR \
         (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{list}}})) \
         AND ((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/delete'}})) OR \
         (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{list}}}))"
    )
}

/// One user as an owner, picked by position (empty when there are no users).
/// Built-in Entra roles used by [`entra_roles`]: (template id, name, a few of its actions).
const ENTRA_ROLES: [(&str, &str, &[&str]); 3] = [
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        &[
            "microsoft.directory/roleAssignments/allProperties/allTasks",
            "microsoft.directory/applications/allProperties/allTasks",
        ],
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
        &["microsoft.directory/roleAssignments/allProperties/allTasks"],
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        &[
            "microsoft.directory/applications/credentials/update",
            "microsoft.directory/servicePrincipals/credentials/update",
        ],
    ),
];

/// A few directory roles, as a tenant of this size has them: two standing Global Administrators, a PIM-eligible
/// Privileged Role Administrator, and an Application Administrator per 500 users scoped to one application
/// (eligible). Ids are derived from positions, with no random draw, so the rest of the tenant is unchanged.
fn entra_roles(t: &mut MockTenant) {
    let e = &mut t.entra;
    if e.users.is_empty() {
        return;
    }
    let id = |kind: u32, i: usize| format!("{kind:08x}-0000-4000-8000-{i:012x}");
    e.directory_role_definitions = ENTRA_ROLES
        .iter()
        .map(|(template, name, actions)| DirectoryRoleDefinition {
            id: (*template).into(),
            display_name: Some((*name).into()),
            is_built_in: Some(true),
            is_enabled: Some(true),
            template_id: Some((*template).into()),
            role_permissions: vec![DirectoryRolePermission {
                allowed_resource_actions: actions.iter().map(|a| (*a).to_string()).collect(),
                ..Default::default()
            }],
        })
        .collect();
    let [(ga, ..), (pra, ..), (app_admin, ..)] = ENTRA_ROLES;
    let user = |i: usize| e.users[i % e.users.len()].id.to_string();
    e.directory_role_assignments = (0..2)
        .map(|i| DirectoryRoleAssignment {
            id: id(0xe1, i),
            principal_id: user(i),
            role_definition_id: ga.into(),
            directory_scope_id: Some("/".into()),
            app_scope_id: None,
        })
        .collect();
    let eligible = |n: usize, principal: String, role: &str, scope: String| DirectoryRoleEligibilityScheduleInstance {
        id: id(0xe2, n),
        principal_id: principal,
        role_definition_id: role.into(),
        directory_scope_id: Some(scope),
        member_type: Some("Direct".into()),
        ..Default::default()
    };
    let mut instances = vec![eligible(0, user(2), pra, "/".into())];
    for (n, i) in (0..e.users.len()).step_by(500).enumerate() {
        let Some(app) = (!e.applications.is_empty()).then(|| &e.applications[i % e.applications.len()]) else { break };
        instances.push(eligible(n + 1, user(i + 3), app_admin, format!("/{}", app.id)));
    }
    e.directory_role_eligibility_schedule_instances = instances;
}

/// Compute that carries identities, derived from positions (no random draw, so the rest of a generated tenant
/// stays as it was): in every fifth resource group a VM and an App Service site, each running as one of the
/// managed identities of the directory (user-assigned).
fn compute_identities(t: &mut MockTenant) {
    use azpath_graph::snapshot::{IdentityProperties, IdentityResource, ResourceIdentity};
    let managed: Vec<(String, String)> = t
        .entra
        .service_principals
        .iter()
        .filter(|sp| sp.service_principal_type.as_deref() == Some("ManagedIdentity"))
        .filter_map(|sp| Some((sp.id.clone(), sp.alternative_names.get(1)?.clone())))
        .collect();
    if managed.is_empty() {
        return;
    }
    let mut out = Vec::new();
    for (i, rg) in t.azure.resource_groups.iter().enumerate().step_by(5) {
        for (n, (kind, name)) in
            [("Microsoft.Compute/virtualMachines", "vm"), ("Microsoft.Web/sites", "app")].iter().enumerate()
        {
            let (principal, uami) = &managed[(i + n) % managed.len()];
            let props = IdentityProperties { principal_id: Some(principal.clone()), ..Default::default() };
            out.push(IdentityResource {
                id: format!("{}/providers/{kind}/{name}-{i}", rg.id),
                name: format!("{name}-{i}"),
                kind: (*kind).into(),
                identity: ResourceIdentity {
                    kind: Some("UserAssigned".into()),
                    principal_id: None,
                    user_assigned_identities: Some([(uami.clone(), props)].into_iter().collect()),
                },
            });
        }
    }
    t.azure.identity_resources = out;
}

fn owner_at(users: &[User], i: usize) -> Vec<DirectoryObject> {
    if users.is_empty() {
        return Vec::new();
    }
    let u = &users[i % users.len()];
    vec![DirectoryObject {
        odata_type: Some("#microsoft.graph.user".into()),
        id: u.id.as_str().into(),
        ..Default::default()
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_look_like_guids() {
        let mut rng = Rng(3);
        for _ in 0..100 {
            let g = rng.guid();
            assert_eq!(g.len(), 36, "{g}");
            assert_eq!(&g[14..15], "4");
            assert!(azpath_graph::rbac::is_guid(&g), "{g}");
        }
    }

    #[test]
    fn generated_tenants_have_a_few_directory_roles_derived_from_positions() {
        let o = GenerateOptions::sized(20_000, 7);
        let t = generate(&o);
        let e = &t.entra;
        assert_eq!(e.directory_role_definitions.len(), 3);
        assert_eq!(e.directory_role_assignments.len(), 2);
        assert!(e.directory_role_assignments.iter().all(|a| a.directory_scope_id.as_deref() == Some("/")));
        let scoped = e
            .directory_role_eligibility_schedule_instances
            .iter()
            .filter(|i| i.directory_scope_id.as_deref() != Some("/"));
        assert_eq!(scoped.count(), e.users.len().div_ceil(500));
        // Derived from positions, not random draws: computing them again gives the same records.
        let mut without = t.clone();
        without.entra.directory_role_definitions.clear();
        without.entra.directory_role_assignments.clear();
        without.entra.directory_role_eligibility_schedule_instances.clear();
        entra_roles(&mut without);
        assert_eq!(without.entra.directory_role_assignments, e.directory_role_assignments);
        let empty = generate(&GenerateOptions { users: 0, ..GenerateOptions::sized(1_000, 7) });
        assert!(empty.entra.directory_role_assignments.is_empty(), "no users, no role holders");
    }

    #[test]
    fn generated_tenants_have_vms_and_sites_with_identities() {
        let t = generate(&GenerateOptions::default());
        let r = &t.azure.identity_resources;
        assert!(r.iter().any(|x| x.kind == "Microsoft.Compute/virtualMachines"));
        let site = r.iter().find(|x| x.kind == "Microsoft.Web/sites").expect("a site");
        let (uami, props) = site.identity.user_assigned_identities.as_ref().unwrap().iter().next().unwrap();
        let sp = t.entra.service_principals.iter().find(|s| Some(&s.id) == props.principal_id.as_ref()).unwrap();
        assert_eq!(sp.alternative_names.get(1), Some(uami), "the site runs as a managed identity of the directory");
        assert_eq!(r.len(), 2 * t.azure.resource_groups.len().div_ceil(5));
    }

    /// FNV-1a of a text: a stable fingerprint for pinning generated output.
    fn fnv(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    }

    /// The `--size` tiers feed the analysis benchmarks: their output must not move by a byte when collection
    /// shapes are added. Pinned on a tenant of 2,000 nodes (the `small` tier), seed 1, as its snapshot JSON.
    #[test]
    fn existing_size_tiers_generate_the_same_bytes() {
        let json = generate(&GenerateOptions::sized(2_000, 1)).to_snapshot().to_json();
        assert_eq!((json.len(), fnv(&json)), (2_119_214, 5_209_522_509_819_935_521));
    }

    #[test]
    fn collection_tenants_have_the_shape_of_the_issue() {
        let t = generate_for_collection(5_000, 1);
        let (a, e) = (&t.azure, &t.entra);
        assert_eq!((e.users.len(), e.groups.len(), e.service_principals.len()), (5_000, 500, 2_000));
        assert_eq!(a.subscriptions.len(), 5);
        // Two per user, and a few the generator adds (department grants, a deleted principal).
        assert!((10_000..10_100).contains(&a.role_assignments.len()), "{}", a.role_assignments.len());
        assert!(a.user_assigned_identities.len() >= 200, "{}", a.user_assigned_identities.len());
        let generated = a.user_assigned_identities.iter().filter(|m| m.id.contains("/rg-identities/")).count();
        assert_eq!(generated, 200, "a user-assigned identity per 25 users");
        let apps = e.applications.len();
        let with_credentials = e.application_federated_credentials.len();
        assert!(apps / 10 <= with_credentials && with_credentials <= apps / 7, "{with_credentials} of {apps}");
        assert!(!t.kube.is_empty(), "some clusters");
        let again = generate_for_collection(5_000, 1);
        assert_eq!(t.to_snapshot().to_json(), again.to_snapshot().to_json(), "deterministic");
    }

    #[test]
    fn users_parse_as_numbers_or_collection_tiers() {
        assert_eq!(parse_users("50k"), Ok(50_000));
        assert_eq!(parse_users("collect-400k"), Ok(400_000));
        assert_eq!(parse_users("120"), Ok(120));
        assert!(parse_users("small").is_err(), "a --size tier is not a number of users");
        assert!(parse_users("0").is_err());
        assert!(parse_users("lots").is_err());
    }

    #[test]
    fn sized_adds_up() {
        let o = GenerateOptions::sized(100_000, 1);
        let nodes = o.users
            + o.groups
            + o.service_principals
            + o.service_principals * 2 / 3
            + o.subscriptions * (1 + o.resource_groups_per_subscription)
            + o.management_groups
            + 1;
        assert!((90_000..=110_000).contains(&nodes), "{nodes} from {o:?}");
    }
}

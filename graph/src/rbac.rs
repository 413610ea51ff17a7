//! Azure RBAC evaluation: action wildcards, `notActions` subtraction, capabilities, delegation conditions.
//!
//! Assignments are judged by what they allow, not by role name, so custom roles count. A *capability* is a
//! named power (assign roles, write everything, …) tested by probing the effective permissions with the
//! actions that power needs.

use serde::{Deserialize, Serialize};

use crate::snapshot::Permission;

/// Case-insensitive glob match of an RBAC action pattern: `*` matches any run of characters, `/` included
/// (`*/read`, `Microsoft.Compute/*`, `Microsoft.Authorization/*/Write`).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let p = pattern.as_bytes();
    let a = action.as_bytes();
    let (mut pi, mut ai) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ai < a.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ai;
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&a[ai]) {
            pi += 1;
            ai += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ai = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Permission blocks of a role definition (or a deny assignment): an action is in the set when some block's
/// `actions` match it and that same block's `notActions` do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet {
    blocks: Vec<Permission>,
}

impl PermissionSet {
    /// Wraps permission blocks.
    pub fn new(blocks: Vec<Permission>) -> Self {
        PermissionSet { blocks }
    }

    /// Whether the control-plane action is in the set.
    pub fn allows_action(&self, action: &str) -> bool {
        self.blocks.iter().any(|b| {
            b.actions.iter().any(|p| action_matches(p, action))
                && !b.not_actions.iter().any(|p| action_matches(p, action))
        })
    }

    /// Whether the data-plane action is in the set.
    pub fn allows_data_action(&self, action: &str) -> bool {
        self.blocks.iter().any(|b| {
            b.data_actions.iter().any(|p| action_matches(p, action))
                && !b.not_data_actions.iter().any(|p| action_matches(p, action))
        })
    }

    /// The capabilities whose probe actions are all in the set.
    pub fn capabilities(&self) -> Caps {
        Capability::ALL
            .iter()
            // Limited assignment only ever comes from a delegation condition, never from actions alone.
            .filter(|c| **c != Capability::AssignRolesLimited)
            .filter(|c| c.granted_by(|a| self.allows_action(a)))
            .fold(Caps::EMPTY, |acc, c| acc | c.bit())
    }

    /// The capabilities a deny assignment with these permissions removes: denying any action a capability
    /// needs (all of whose probes it needs) removes it; one that any of several actions confers is removed
    /// only when every one of them is denied.
    pub fn touched_capabilities(&self) -> Caps {
        Capability::ALL
            .iter()
            .filter(|c| {
                if c.any_probe() {
                    c.probes().iter().all(|a| self.allows_action(a))
                } else {
                    c.probes().iter().any(|a| self.allows_action(a))
                }
            })
            .fold(Caps::EMPTY, |acc, c| acc | c.bit())
    }
}

/// A named power an assignment can confer at its scope and below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `Microsoft.Authorization/roleAssignments/write` with no limit: can grant anyone (itself included)
    /// any role, so Owner-equivalent.
    AssignRoles,
    /// Can assign only some roles (constrained delegation); the powers of those roles are added separately.
    AssignRolesLimited,
    /// `*` not excluded: can create or change any resource (Contributor-equivalent).
    WriteEverything,
    /// `Microsoft.Authorization/roleDefinitions/write`: can widen custom roles.
    WriteRoleDefinitions,
    /// `Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action`.
    ListAksAdminCredential,
    /// `Microsoft.ContainerService/managedClusters/write`: can re-enable local accounts and more.
    WriteAksCluster,
    /// `Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write`.
    WriteFederatedCredential,
    /// `Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action`.
    AssignManagedIdentity,
    /// `Microsoft.Compute/virtualMachines/runCommand/action`: runs code as the VM's identities.
    RunCommand,
    /// `Microsoft.ContainerService/managedClusters/runCommand/action`: runs kubectl inside an AKS cluster.
    AksRunCommand,
    /// Any of VM `runCommand/action`, `runCommands/write`, `extensions/write`, `virtualMachines/write`: runs
    /// code on a virtual machine, as its identities.
    RunCodeOnVm,
    /// Any of the scale-set equivalents of [`Capability::RunCodeOnVm`].
    RunCodeOnVmss,
    /// Any of `Microsoft.Web/sites/write`, `sites/publish/Action`, `sites/config/list/Action` (publishing
    /// credentials), `sites/publishxml/Action`: deploys code to an App Service or Functions site.
    RunCodeOnSite,
    /// Both `automationAccounts/runbooks/write` and `automationAccounts/jobs/write`: writes and starts a
    /// runbook.
    RunCodeOnAutomation,
    /// `Microsoft.Logic/workflows/write`.
    WriteLogicApp,
    /// `Microsoft.App/containerApps/write`.
    WriteContainerApp,
    /// `Microsoft.ContainerInstance/containerGroups/write`.
    WriteContainerGroup,
    /// Both `factories/pipelines/write` and `factories/pipelines/createrun/action`.
    RunDataFactoryPipeline,
    /// Write on any compute type that can carry a user-assigned identity (VM, scale set, site, Automation
    /// account, Logic App, container app or group, factory): with [`Capability::AssignManagedIdentity`] on an
    /// identity, can attach it.
    WriteIdentityCarrier,
}

/// Capabilities any one of which runs code as a compute resource's identities (`CAN_RUN_AS_RESOURCE_IDENTITY`).
pub(crate) const RUN_CODE: [Capability; 9] = [
    Capability::RunCommand,
    Capability::RunCodeOnVm,
    Capability::RunCodeOnVmss,
    Capability::RunCodeOnSite,
    Capability::RunCodeOnAutomation,
    Capability::WriteLogicApp,
    Capability::WriteContainerApp,
    Capability::WriteContainerGroup,
    Capability::RunDataFactoryPipeline,
];

/// What a step needs from a capability mask on the step before it: a mask (ASO's, what its installed CRDs let
/// the identity it acts as do) lets the step be taken only when it allows one of these. Empty: no mask limits
/// the step. The one table the engine, the core search and `paths` read.
pub fn step_needs(kind: crate::model::EdgeKind) -> Caps {
    use crate::model::EdgeKind;
    match kind {
        EdgeKind::CanWriteFederatedCredential => Capability::WriteFederatedCredential.bit(),
        EdgeKind::AksClusterAdmin => Caps::of(&[Capability::ListAksAdminCredential, Capability::WriteAksCluster]),
        EdgeKind::CanRunAsResourceIdentity => Caps::of(&RUN_CODE),
        EdgeKind::CanAttachIdentity => Capability::WriteIdentityCarrier.bit(),
        _ => Caps::EMPTY,
    }
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 19] = [
        Capability::AssignRoles,
        Capability::AssignRolesLimited,
        Capability::WriteEverything,
        Capability::WriteRoleDefinitions,
        Capability::ListAksAdminCredential,
        Capability::WriteAksCluster,
        Capability::WriteFederatedCredential,
        Capability::AssignManagedIdentity,
        Capability::RunCommand,
        Capability::AksRunCommand,
        Capability::RunCodeOnVm,
        Capability::RunCodeOnVmss,
        Capability::RunCodeOnSite,
        Capability::RunCodeOnAutomation,
        Capability::WriteLogicApp,
        Capability::WriteContainerApp,
        Capability::WriteContainerGroup,
        Capability::RunDataFactoryPipeline,
        Capability::WriteIdentityCarrier,
    ];

    /// The kebab-case name used in queries and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::AssignRoles => "assign-roles",
            Capability::AssignRolesLimited => "assign-roles-limited",
            Capability::WriteEverything => "write-everything",
            Capability::WriteRoleDefinitions => "write-role-definitions",
            Capability::ListAksAdminCredential => "list-aks-admin-credential",
            Capability::WriteAksCluster => "write-aks-cluster",
            Capability::WriteFederatedCredential => "write-federated-credential",
            Capability::AssignManagedIdentity => "assign-managed-identity",
            Capability::RunCommand => "run-command",
            Capability::AksRunCommand => "aks-run-command",
            Capability::RunCodeOnVm => "run-code-on-vm",
            Capability::RunCodeOnVmss => "run-code-on-vmss",
            Capability::RunCodeOnSite => "run-code-on-site",
            Capability::RunCodeOnAutomation => "run-code-on-automation",
            Capability::WriteLogicApp => "write-logic-app",
            Capability::WriteContainerApp => "write-container-app",
            Capability::WriteContainerGroup => "write-container-group",
            Capability::RunDataFactoryPipeline => "run-data-factory-pipeline",
            Capability::WriteIdentityCarrier => "write-identity-carrier",
        }
    }

    /// Parses the kebab-case name.
    pub fn parse(s: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// This capability as a one-bit set.
    pub fn bit(self) -> Caps {
        Caps(1 << (self as u32))
    }

    /// Actions that must all be allowed for the capability. `WriteEverything` probes an action of a provider
    /// that does not exist, so only a true `*` (not an enumerated list of providers) passes, plus the writes
    /// that matter for escalation, so a `*` that excludes them does not.
    fn probes(self) -> &'static [&'static str] {
        match self {
            Capability::AssignRoles | Capability::AssignRolesLimited => {
                &["Microsoft.Authorization/roleAssignments/write"]
            }
            Capability::WriteEverything => &[
                "Azpath.Probe/anyResources/write",
                "Microsoft.Resources/deployments/write",
                "Microsoft.Compute/virtualMachines/write",
                "Microsoft.ManagedIdentity/userAssignedIdentities/write",
                "Microsoft.ContainerService/managedClusters/write",
            ],
            Capability::WriteRoleDefinitions => &["Microsoft.Authorization/roleDefinitions/write"],
            Capability::ListAksAdminCredential => {
                &["Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action"]
            }
            Capability::WriteAksCluster => &["Microsoft.ContainerService/managedClusters/write"],
            Capability::WriteFederatedCredential => {
                &["Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"]
            }
            // The operation is `…/userAssignedIdentities/assign/action`; built-in roles (Managed Identity
            // Operator) grant it as `…/userAssignedIdentities/*/assign/action`, which Azure honours although the
            // glob needs a segment there: either form counts.
            Capability::AssignManagedIdentity => &[
                "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            ],
            Capability::RunCommand => &["Microsoft.Compute/virtualMachines/runCommand/action"],
            Capability::AksRunCommand => &["Microsoft.ContainerService/managedClusters/runCommand/action"],
            Capability::RunCodeOnVm => &[
                "Microsoft.Compute/virtualMachines/runCommand/action",
                "Microsoft.Compute/virtualMachines/runCommands/write",
                "Microsoft.Compute/virtualMachines/extensions/write",
                "Microsoft.Compute/virtualMachines/write",
            ],
            Capability::RunCodeOnVmss => &[
                "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
                "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write",
                "Microsoft.Compute/virtualMachineScaleSets/extensions/write",
                "Microsoft.Compute/virtualMachineScaleSets/write",
            ],
            Capability::RunCodeOnSite => &[
                "Microsoft.Web/sites/write",
                "Microsoft.Web/sites/publish/Action",
                "Microsoft.Web/sites/config/list/Action",
                "Microsoft.Web/sites/publishxml/Action",
            ],
            Capability::RunCodeOnAutomation => &[
                "Microsoft.Automation/automationAccounts/runbooks/write",
                "Microsoft.Automation/automationAccounts/jobs/write",
            ],
            Capability::WriteLogicApp => &["Microsoft.Logic/workflows/write"],
            Capability::WriteContainerApp => &["Microsoft.App/containerApps/write"],
            Capability::WriteContainerGroup => &["Microsoft.ContainerInstance/containerGroups/write"],
            Capability::RunDataFactoryPipeline => &[
                "Microsoft.DataFactory/factories/pipelines/write",
                "Microsoft.DataFactory/factories/pipelines/createrun/action",
            ],
            Capability::WriteIdentityCarrier => &[
                "Microsoft.Compute/virtualMachines/write",
                "Microsoft.Compute/virtualMachineScaleSets/write",
                "Microsoft.Web/sites/write",
                "Microsoft.Automation/automationAccounts/write",
                "Microsoft.Logic/workflows/write",
                "Microsoft.App/containerApps/write",
                "Microsoft.ContainerInstance/containerGroups/write",
                "Microsoft.DataFactory/factories/write",
            ],
        }
    }

    /// Whether any one probe action confers the capability (otherwise all of them are needed).
    fn any_probe(self) -> bool {
        matches!(
            self,
            Capability::AssignManagedIdentity
                | Capability::RunCodeOnVm
                | Capability::RunCodeOnVmss
                | Capability::RunCodeOnSite
                | Capability::WriteIdentityCarrier
        )
    }

    /// Whether a permission test (`allows(action)`) confers the capability.
    fn granted_by(self, allows: impl Fn(&str) -> bool) -> bool {
        if self.any_probe() {
            self.probes().iter().any(|a| allows(a))
        } else {
            self.probes().iter().all(|a| allows(a))
        }
    }
}

/// A set of [`Capability`] as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Caps(pub u32);

impl Caps {
    /// No capability.
    pub const EMPTY: Caps = Caps(0);

    /// The headline capabilities for people: when assign-roles or write-everything is held, the narrower
    /// powers they imply are left out.
    pub fn headline(self) -> Caps {
        let broad = Caps::of(&[Capability::AssignRoles, Capability::AssignRolesLimited, Capability::WriteEverything]);
        if self.intersects(broad) {
            Caps(self.0 & broad.0)
        } else {
            self
        }
    }

    /// Whether `c` is in the set.
    pub fn contains(self, c: Capability) -> bool {
        self.0 & c.bit().0 != 0
    }

    /// Whether the sets share a capability.
    pub fn intersects(self, other: Caps) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Set difference.
    pub fn without(self, other: Caps) -> Caps {
        Caps(self.0 & !other.0)
    }

    /// Capabilities in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// Kebab-case names.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|c| c.as_str().to_string()).collect()
    }

    /// Builds a set from capabilities.
    pub fn of(caps: &[Capability]) -> Caps {
        caps.iter().fold(Caps::EMPTY, |acc, c| acc | c.bit())
    }
}

impl std::ops::BitOr for Caps {
    type Output = Caps;
    fn bitor(self, rhs: Caps) -> Caps {
        Caps(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Caps {
    fn bitor_assign(&mut self, rhs: Caps) {
        self.0 |= rhs.0;
    }
}

/// Kubernetes powers a role grants through Azure RBAC for Kubernetes data actions (bits of a `u16`). Azure
/// names a Kubernetes request `Microsoft.ContainerService/managedClusters/<group/><resource>/<verb>`, with `read`
/// for get/list/watch, `write` for create/update/patch and `<verb>/action` for the rest (`pods/exec/action`,
/// `serviceaccounts/impersonate/action`); each bit is one request azpath's Kubernetes edges ask about.
pub struct KubeData;

impl KubeData {
    /// Create (or patch) pods or workloads: pods, Deployments or Jobs.
    pub const CREATE_WORKLOADS: u16 = 1;
    /// Read secrets.
    pub const READ_SECRETS: u16 = 2;
    /// Write cluster role bindings: cluster-admin (at cluster scope).
    pub const ESCALATE: u16 = 4;
    /// Create Azure Service Operator resources.
    pub const USE_ASO: u16 = 8;
    /// Create secrets.
    pub const CREATE_SECRETS: u16 = 16;
    /// Patch pods (a new image runs as the pod's service account).
    pub const WRITE_PODS: u16 = 32;
    /// Exec or attach into pods.
    pub const EXEC_PODS: u16 = 64;
    /// Impersonate service accounts.
    pub const IMPERSONATE_SERVICE_ACCOUNTS: u16 = 128;
    /// Impersonate users or groups (`system:masters` included).
    pub const IMPERSONATE_USERS: u16 = 256;
}

/// The [`KubeData`] bits a role's data actions allow.
pub fn kube_data(perms: &PermissionSet) -> u16 {
    const P: &str = "Microsoft.ContainerService/managedClusters/";
    let has = |a: &str| perms.allows_data_action(&format!("{P}{a}"));
    let bit = |on: bool, b: u16| if on { b } else { 0 };
    bit(has("pods/write") || has("apps/deployments/write") || has("batch/jobs/write"), KubeData::CREATE_WORKLOADS)
        | bit(has("secrets/read"), KubeData::READ_SECRETS)
        | bit(
            has("rbac.authorization.k8s.io/clusterrolebindings/write")
                || has("rbac.authorization.k8s.io/clusterroles/bind/action"),
            KubeData::ESCALATE,
        )
        | bit(
            has("resources.azure.com/resourcegroups/write") || has("authorization.azure.com/roleassignments/write"),
            KubeData::USE_ASO,
        )
        | bit(has("secrets/write"), KubeData::CREATE_SECRETS)
        | bit(has("pods/write"), KubeData::WRITE_PODS)
        | bit(has("pods/exec/action") || has("pods/attach/action"), KubeData::EXEC_PODS)
        | bit(has("serviceaccounts/impersonate/action"), KubeData::IMPERSONATE_SERVICE_ACCOUNTS)
        | bit(has("users/impersonate/action") || has("groups/impersonate/action"), KubeData::IMPERSONATE_USERS)
}

/// What an assignment's ABAC condition does to its power to assign roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DelegationLimit {
    /// The condition does not constrain `roleAssignments/write` (e.g. a storage data condition).
    Unconstrained,
    /// Only these role definition GUIDs (lower-case) may be assigned.
    OnlyRoles(Vec<String>),
    /// Any role except these GUIDs may be assigned.
    AllRolesExcept(Vec<String>),
    /// The condition constrains role assignment in a way azpath cannot evaluate.
    NotUnderstood,
}

/// Result of reading a condition: the limit, and whether something in it was only partly understood
/// (e.g. a limit on principal types that azpath does not evaluate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionReading {
    /// Limit on assigning roles.
    pub limit: DelegationLimit,
    /// Some part of the condition narrows the grant in a way not modelled.
    pub partial: bool,
}

const RA_WRITE: &str = "microsoft.authorization/roleassignments/write";
const RA_ATTR_ROLE: &str = "[microsoft.authorization/roleassignments:roledefinitionid]";

/// Reads the constrained-delegation pattern of an assignment condition (conditionVersion 2.0):
///
/// ```text
/// ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR
///  (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {g1, g2}))
/// ```
///
/// `GuidEquals` forms give [`DelegationLimit::OnlyRoles`], `GuidNotEquals` forms (the "all roles except
/// privileged administrators" pattern) give [`DelegationLimit::AllRolesExcept`]. Limits on principal type or
/// id are noted as `partial`. Anything else that mentions role-assignment writes is `NotUnderstood`.
pub fn read_condition(condition: &str) -> ConditionReading {
    let lower = condition.to_ascii_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    let limits_write = compact.contains(&format!("actionmatches{{'{RA_WRITE}'}}"))
        || compact.contains("actionmatches{'microsoft.authorization/roleassignments/*'}")
        || compact.contains("actionmatches{'microsoft.authorization/*'}");
    if !limits_write {
        return ConditionReading { limit: DelegationLimit::Unconstrained, partial: false };
    }
    let partial = compact.contains(":principaltype]") || compact.contains(":principalid]");
    // Each `@Request[...RoleDefinitionId] <operator> <operand>` clause.
    let mut only = Vec::new();
    let mut except = Vec::new();
    let mut clauses = 0;
    let needle = format!("@request{RA_ATTR_ROLE}");
    let mut rest = compact.as_str();
    while let Some(pos) = rest.find(&needle) {
        clauses += 1;
        let after = &rest[pos + needle.len()..];
        let (op, operand) = split_operator(after);
        let guids = guids_in(operand);
        let negated = op.ends_with("guidnotequals");
        let known = op.ends_with("guidequals") || negated;
        if !known || guids.is_empty() {
            return ConditionReading { limit: DelegationLimit::NotUnderstood, partial };
        }
        if negated {
            except.extend(guids);
        } else {
            only.extend(guids);
        }
        rest = after;
    }
    let limit = match (clauses, only.is_empty(), except.is_empty()) {
        (0, _, _) => DelegationLimit::NotUnderstood,
        (_, false, true) => DelegationLimit::OnlyRoles(sorted_unique(only)),
        (_, true, false) => DelegationLimit::AllRolesExcept(sorted_unique(except)),
        _ => DelegationLimit::NotUnderstood,
    };
    ConditionReading { limit, partial: partial || clauses > 1 }
}

/// Splits `foranyofanyvalues:guidequals{a,b})...` (compacted, lower-case) into a known operator and its
/// operand (`{…}` list or a bare GUID). Unknown operators give an empty operator.
fn split_operator(s: &str) -> (&str, &str) {
    const QUANTIFIERS: [&str; 5] =
        ["foranyofanyvalues:", "foranyofallvalues:", "forallofanyvalues:", "forallofallvalues:", ""];
    const OPERATORS: [&str; 2] = ["guidnotequals", "guidequals"];
    for q in QUANTIFIERS {
        for o in OPERATORS {
            let Some(tail) = s.strip_prefix(q).and_then(|t| t.strip_prefix(o)) else {
                continue;
            };
            let operand = match tail.strip_prefix('{') {
                Some(list) => list.split('}').next().unwrap_or(""),
                None => tail.get(..36).unwrap_or(tail),
            };
            return (&s[..q.len() + o.len()], operand);
        }
    }
    ("", "")
}

fn guids_in(s: &str) -> Vec<String> {
    s.split([',', '\'', '"']).map(str::trim).filter(|t| is_guid(t)).map(str::to_string).collect()
}

/// Whether `s` is a GUID in 8-4-4-4-12 form.
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The GUID at the end of a role definition id (`…/roleDefinitions/{guid}`), lower-cased.
pub fn role_definition_guid(role_definition_id: &str) -> String {
    role_definition_id.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(actions: &[&str], not_actions: &[&str]) -> PermissionSet {
        PermissionSet::new(vec![Permission {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }])
    }

    #[test]
    fn wildcards_match_anywhere_and_ignore_case() {
        assert!(action_matches("*", "Microsoft.Compute/virtualMachines/write"));
        assert!(action_matches("*/read", "Microsoft.Compute/virtualMachines/read"));
        assert!(!action_matches("*/read", "Microsoft.Compute/virtualMachines/write"));
        assert!(action_matches("Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write"));
        assert!(!action_matches("Microsoft.Authorization/*/Write", "Microsoft.Compute/virtualMachines/write"));
        assert!(action_matches("Microsoft.Compute/*", "Microsoft.Compute/virtualMachines/runCommand/action"));
        assert!(!action_matches("Microsoft.Compute/*", "Microsoft.ComputeX/a"));
        assert!(action_matches("Microsoft.*/write", "Microsoft.Web/sites/write"));
        assert!(!action_matches("", "a"));
    }

    #[test]
    fn not_actions_subtract_within_a_block() {
        let contributor_like = perms(&["*"], &["Microsoft.Authorization/*/Write"]);
        let caps = contributor_like.capabilities();
        assert!(caps.contains(Capability::WriteEverything));
        assert!(!caps.contains(Capability::AssignRoles));
    }

    #[test]
    fn blocks_are_unioned_not_intersected() {
        let set = PermissionSet::new(vec![
            Permission {
                actions: vec!["*".into()],
                not_actions: vec!["Microsoft.Authorization/*".into()],
                ..Default::default()
            },
            Permission { actions: vec!["Microsoft.Authorization/roleAssignments/write".into()], ..Default::default() },
        ]);
        assert!(set.capabilities().contains(Capability::AssignRoles));
    }

    #[test]
    fn owner_uaa_reader_and_enumerated_writes() {
        assert!(perms(&["*"], &[]).capabilities().contains(Capability::AssignRoles));
        let uaa = perms(&["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"], &[]).capabilities();
        assert!(uaa.contains(Capability::AssignRoles) && !uaa.contains(Capability::WriteEverything));
        assert!(perms(&["*/read"], &[]).capabilities().is_empty());
        assert!(!perms(&["Microsoft.Compute/*"], &[]).capabilities().contains(Capability::WriteEverything));
        assert!(!perms(&["*"], &["*/write"]).capabilities().contains(Capability::WriteEverything));
    }

    const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
    const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

    #[test]
    fn delegation_condition_only_roles() {
        let c = format!(
            "(\r\n (\r\n  !(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})\r\n )\r\n OR \r\n (\r\n  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{READER}, {CONTRIBUTOR}}}\r\n )\r\n)\r\nAND\r\n(\r\n (\r\n  !(ActionMatches{{'Microsoft.Authorization/roleAssignments/delete'}})\r\n )\r\n OR \r\n (\r\n  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{READER}}}\r\n )\r\n)"
        );
        let r = read_condition(&c);
        assert_eq!(r.limit, DelegationLimit::OnlyRoles(vec![READER.into(), CONTRIBUTOR.into()]));
        assert!(!r.partial);
    }

    #[test]
    fn delegation_condition_all_except() {
        let c = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9, f58310d9-a9f6-439a-9e8d-f62e7b41a168}))";
        let r = read_condition(c);
        assert!(matches!(r.limit, DelegationLimit::AllRolesExcept(ref v) if v.len() == 3));
    }

    #[test]
    fn delegation_condition_with_principal_type_is_partial() {
        let c = format!("((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{READER}}} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}))");
        let r = read_condition(&c);
        assert_eq!(r.limit, DelegationLimit::OnlyRoles(vec![READER.into()]));
        assert!(r.partial);
    }

    #[test]
    fn storage_condition_does_not_limit_assignment() {
        let c = "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'x'))";
        assert_eq!(read_condition(c).limit, DelegationLimit::Unconstrained);
    }

    #[test]
    fn unknown_role_assignment_condition_is_not_understood() {
        let c = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] StringStartsWith 'abc'))";
        assert_eq!(read_condition(c).limit, DelegationLimit::NotUnderstood);
        let c2 = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals 'User'))";
        assert_eq!(read_condition(c2).limit, DelegationLimit::NotUnderstood);
    }

    #[test]
    fn run_code_on_compute_is_any_of_its_actions() {
        let run_command_only = perms(&["Microsoft.Compute/virtualMachines/runCommand/action"], &[]).capabilities();
        assert!(run_command_only.contains(Capability::RunCodeOnVm));
        assert!(!run_command_only.contains(Capability::RunCodeOnVmss));
        assert!(!run_command_only.contains(Capability::WriteIdentityCarrier));
        let vm_contributor = perms(&["Microsoft.Compute/virtualMachines/*"], &[]).capabilities();
        assert!(
            vm_contributor.contains(Capability::RunCodeOnVm)
                && vm_contributor.contains(Capability::WriteIdentityCarrier)
        );
        let website = perms(&["Microsoft.Web/sites/*"], &[]).capabilities();
        assert!(website.contains(Capability::RunCodeOnSite) && !website.contains(Capability::RunCodeOnVm));
        let publish = perms(&["Microsoft.Web/sites/config/list/Action"], &[]).capabilities();
        assert!(publish.contains(Capability::RunCodeOnSite) && !publish.contains(Capability::WriteIdentityCarrier));
        let reader = perms(&["*/read"], &[]).capabilities();
        assert!(Capability::ALL[10..].iter().all(|c| !reader.contains(*c)), "{:?}", reader.names());
        let login_only = PermissionSet::new(vec![Permission {
            actions: vec!["Microsoft.Compute/virtualMachines/read".into()],
            data_actions: vec!["Microsoft.Compute/virtualMachines/login/action".into()],
            ..Default::default()
        }]);
        assert!(!login_only.capabilities().contains(Capability::RunCodeOnVm));
    }

    #[test]
    fn run_code_on_automation_and_factories_needs_both_actions() {
        let write_only = perms(&["Microsoft.Automation/automationAccounts/runbooks/write"], &[]).capabilities();
        assert!(!write_only.contains(Capability::RunCodeOnAutomation));
        let both = perms(
            &[
                "Microsoft.Automation/automationAccounts/runbooks/write",
                "Microsoft.Automation/automationAccounts/jobs/write",
            ],
            &[],
        );
        assert!(both.capabilities().contains(Capability::RunCodeOnAutomation));
        let pipeline = perms(&["Microsoft.DataFactory/factories/pipelines/write"], &[]).capabilities();
        assert!(!pipeline.contains(Capability::RunDataFactoryPipeline));
        let factory = perms(&["Microsoft.DataFactory/factories/*"], &[]).capabilities();
        assert!(
            factory.contains(Capability::RunDataFactoryPipeline) && factory.contains(Capability::WriteIdentityCarrier)
        );
        assert!(perms(&["Microsoft.Logic/workflows/write"], &[]).capabilities().contains(Capability::WriteLogicApp));
        assert!(perms(&["Microsoft.App/*"], &[]).capabilities().contains(Capability::WriteContainerApp));
        let aci = perms(&["Microsoft.ContainerInstance/containerGroups/write"], &[]).capabilities();
        assert!(aci.contains(Capability::WriteContainerGroup) && !aci.contains(Capability::WriteContainerApp));
    }

    #[test]
    fn a_deny_removes_an_any_of_capability_only_when_it_denies_every_way() {
        let one = perms(&["Microsoft.Compute/virtualMachines/runCommand/action"], &[]).touched_capabilities();
        assert!(!one.contains(Capability::RunCodeOnVm));
        let all = perms(&["Microsoft.Compute/virtualMachines/*"], &[]).touched_capabilities();
        assert!(all.contains(Capability::RunCodeOnVm));
        let jobs = perms(&["Microsoft.Automation/automationAccounts/jobs/write"], &[]).touched_capabilities();
        assert!(jobs.contains(Capability::RunCodeOnAutomation));
    }

    #[test]
    fn managed_identity_operator_may_assign_identities_in_either_form() {
        let mio = perms(&["Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action"], &[]).capabilities();
        assert!(mio.contains(Capability::AssignManagedIdentity));
        let exact = perms(&["Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"], &[]).capabilities();
        assert!(exact.contains(Capability::AssignManagedIdentity));
        let read = perms(&["Microsoft.ManagedIdentity/userAssignedIdentities/*/read"], &[]).capabilities();
        assert!(!read.contains(Capability::AssignManagedIdentity));
    }

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn role_definition_guid_from_any_id_form() {
        assert_eq!(role_definition_guid("/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/B24988AC-6180-42a0-ab88-20f7382dd24c"), CONTRIBUTOR);
        assert!(is_guid(CONTRIBUTOR) && !is_guid("not-a-guid"));
    }
}

//! `--format opengraph`: what azpath knows that AzureHound does not, as BloodHound CE OpenGraph JSON
//! (docs/opengraph.md). Two documents come out of one report:
//!
//! - the graph file: azpath's own nodes (Kubernetes subjects, service accounts, namespaces, cluster admins,
//!   ASO, external workloads, hubs) and the edges between them;
//! - the Azure edges file (edges only): every edge with an endpoint on an Azure or Entra object, written with
//!   the id AzureHound gives that object (upper-cased object id; `appId` for applications; `principalId` for
//!   managed identities; upper-cased ARM id for scopes; the tenant id for `/`), so the edge lands on the node
//!   AzureHound's upload created.
//!
//! Edges are the hops of the report's path cores, plus one reach edge per
//! (finding principal, target, capability) — `AZP_CanAssignRoles`, `AZP_CanWriteEverything`, … —, which the
//! engine found after denies, conditions and PIM (deny-aware: a principal a deny cuts gets no edge; members a
//! deny cuts are listed in `excludedmembers`). Every kind is prefixed `AZP_`, properties are flat lower-case
//! names with scalar or string-array values, and no id contains a colon (BloodHound's documented rules).
//! [`extension_schema`] is the extension definition (`node_kinds`, `relationship_kinds`) that makes them a
//! structured graph BloodHound path-finds over; [`node_kinds`] and [`relationship_kinds`] are the one list of
//! `AZP_` kinds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use azpath_graph::findings::{Finding, Hop, Report};
use azpath_graph::model::{EdgeKind, NodeKind, Severity};
use azpath_graph::rbac::Capability;
use azpath_graph::snapshot::Snapshot;

use crate::output::{self, OutputError};

/// `metadata.source_kind` of both documents: BloodHound adds it to every node of the upload.
pub const SOURCE_KIND: &str = "AZPBase";
/// The extension's namespace: every node and relationship kind starts with it and `_`.
pub const NAMESPACE: &str = "AZP";
/// The reach kind for a target that is an identity or a cluster admin rather than a scope.
pub const CAN_ACT_AS: &str = "AZP_CanActAs";
/// The kind of the tenant root `/` when the snapshot does not name its tenant.
pub const ROOT_SCOPE: &str = "AZP_RootScope";
/// What the Azure edges file's name adds to the graph file's (`x.json` → `x.azure-edges.json`).
pub const AZURE_EDGES_SUFFIX: &str = ".azure-edges.json";
/// The usage error for an output that is not a file.
pub const NEEDS_FILE: &str =
    "--format opengraph writes two files (FILE and FILE's .azure-edges.json): give --output FILE, not stdout";

/// A kind of the extension: its name, a label and one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindDef {
    /// `AZP_…`.
    pub name: String,
    /// Human label.
    pub display_name: &'static str,
    /// What it stands for.
    pub description: &'static str,
    /// For relationship kinds: BloodHound path-finds over it.
    pub traversable: bool,
}

/// One OpenGraph document: `{"metadata": {"source_kind"}, "graph": {"nodes", "edges"}}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Document {
    /// Payload-wide ingest settings (only `source_kind` is allowed).
    pub metadata: Metadata,
    /// Nodes and edges.
    pub graph: Graph,
}

/// `metadata`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Metadata {
    /// [`SOURCE_KIND`].
    pub source_kind: &'static str,
}

/// `graph`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Graph {
    /// Nodes, sorted by id.
    pub nodes: Vec<Node>,
    /// Edges, sorted by kind, start, end.
    pub edges: Vec<Edge>,
}

/// An OpenGraph node.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Unique, colon-free id.
    pub id: String,
    /// Its `AZP_` kind (BloodHound appends [`SOURCE_KIND`]).
    pub kinds: Vec<String>,
    /// Flat properties.
    pub properties: BTreeMap<&'static str, Prop>,
}

/// An OpenGraph edge.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// Start node.
    pub start: Endpoint,
    /// End node.
    pub end: Endpoint,
    /// Its `AZP_` kind.
    pub kind: String,
    /// Flat properties.
    pub properties: BTreeMap<&'static str, Prop>,
}

/// An edge endpoint, matched by id and constrained to a kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    /// Always `id`.
    pub match_by: &'static str,
    /// The node id (an `AZP-` id, or AzureHound's id of an Azure object).
    pub value: String,
    /// The node kind the id must have (`AZP_…`, or AzureHound's `AZUser`, `AZSubscription`, `AZBase`, …).
    pub kind: String,
}

/// A property value: a scalar or a homogeneous array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Prop {
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// Strings.
    List(Vec<String>),
}

/// Both documents of one export.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// azpath's nodes and the edges between them.
    pub graph: Document,
    /// Edges with an endpoint on an AzureHound node (no nodes).
    pub azure_edges: Document,
}

/// The two files an export goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The graph file (`--output`).
    pub graph: PathBuf,
    /// The Azure edges file beside it.
    pub azure_edges: PathBuf,
}

impl Paths {
    /// The files for `--output FILE`: FILE, and FILE with `.json` replaced by [`AZURE_EDGES_SUFFIX`] (appended
    /// when FILE does not end in `.json`). `None` for no output, `-` or `/dev/stdout`: two documents need files.
    pub fn for_output(output: Option<&Path>) -> Option<Paths> {
        let graph = output?;
        let name = graph.file_name()?.to_str()?;
        if graph.as_os_str() == "-" || graph.starts_with("/dev/stdout") || graph.starts_with("/dev/stderr") {
            return None;
        }
        let stem = name.strip_suffix(".json").unwrap_or(name);
        Some(Paths {
            graph: graph.to_path_buf(),
            azure_edges: graph.with_file_name(format!("{stem}{AZURE_EDGES_SUFFIX}")),
        })
    }
}

/// Writes both documents, each atomically and owner-only like every output ([`output::write_private`]): the
/// Azure edges file first, the graph file last, so a complete graph file means both are complete.
pub fn write_files(paths: &Paths, export: &Export) -> Result<(), OutputError> {
    output::check(&paths.graph)?;
    output::check(&paths.azure_edges)?;
    output::write_private(&paths.azure_edges, &to_json(&export.azure_edges))?;
    output::write_private(&paths.graph, &to_json(&export.graph))
}

/// A document as pretty JSON with a final newline.
pub fn to_json(doc: &Document) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(doc).expect("OpenGraph documents serialize");
    bytes.push(b'\n');
    bytes
}

/// The OpenGraph export of a report; `snapshot` gives what the report does not carry (applications' `appId`,
/// the tenant id).
pub fn export(report: &Report, snapshot: &Snapshot) -> Export {
    let mut x = Exporter::new(report, snapshot);
    for f in &report.findings {
        x.finding(f);
    }
    x.finish()
}

/// The node kinds of the extension, in [`NodeKind::ALL`] order for azpath's own kinds, then [`ROOT_SCOPE`].
pub fn node_kinds() -> Vec<KindDef> {
    let own =
        NodeKind::ALL.into_iter().filter_map(|k| own_node(k).map(|(label, d)| def(&az(k.as_str()), label, d, false)));
    own.chain([def(
        ROOT_SCOPE,
        "Tenant root scope",
        "The tenant root `/`, when the snapshot does not name the tenant.",
        false,
    )])
    .collect()
}

/// The relationship kinds: one per edge kind of the graph, one per capability (names shared with an edge
/// kind are listed once), and [`CAN_ACT_AS`]. All are traversable: each is a step of control.
pub fn relationship_kinds() -> Vec<KindDef> {
    let mut out: Vec<KindDef> =
        EdgeKind::ALL.into_iter().map(|k| def(&edge_kind(k), "", edge_description(k), true)).collect();
    for c in Capability::ALL {
        let name = capability_kind(c);
        if !out.iter().any(|k| k.name == name) {
            out.push(def(&name, "", capability_description(c), true));
        }
    }
    out.push(def(
        CAN_ACT_AS,
        "",
        "Reaches an identity or a cluster admin (a query target that is not a scope) and can act as it.",
        true,
    ));
    out
}

/// The extension definition schema BloodHound installs (OpenGraph Management, or `PUT /api/v2/extensions`).
pub fn extension_schema() -> Value {
    let nodes: Vec<Value> = node_kinds()
        .into_iter()
        .map(|k| json!({"name": k.name, "display_name": k.display_name, "description": k.description, "is_display_kind": true}))
        .collect();
    let rels: Vec<Value> = relationship_kinds()
        .into_iter()
        .map(|k| json!({"name": k.name, "description": k.description, "is_traversable": k.traversable}))
        .collect();
    json!({
        "schema": {
            "name": "azpath",
            "display_name": "azpath: Azure RBAC, Entra ID and AKS privilege paths",
            "version": format!("v{}", env!("CARGO_PKG_VERSION")),
            "namespace": NAMESPACE,
        },
        "node_kinds": nodes,
        "relationship_kinds": rels,
    })
}

fn def(name: &str, display_name: &'static str, description: &'static str, traversable: bool) -> KindDef {
    KindDef { name: name.to_string(), display_name, description, traversable }
}

fn az(pascal: &str) -> String {
    format!("{NAMESPACE}_{pascal}")
}

/// `AZP_` + the edge kind in PascalCase (`CAN_ADD_MEMBER` → `AZP_CanAddMember`).
pub fn edge_kind(k: EdgeKind) -> String {
    az(&pascal(k.as_str(), '_'))
}

/// `AZP_Can` + the capability in PascalCase (`write-everything` → `AZP_CanWriteEverything`).
pub fn capability_kind(c: Capability) -> String {
    az(&format!("Can{}", pascal(c.as_str(), '-')))
}

fn pascal(words: &str, sep: char) -> String {
    words
        .split(sep)
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// azpath's own node kinds (what AzureHound has no node for), with label and description; `None` for Azure
/// and Entra objects, which are AzureHound's.
fn own_node(k: NodeKind) -> Option<(&'static str, &'static str)> {
    Some(match k {
        NodeKind::User
        | NodeKind::Group
        | NodeKind::ServicePrincipal
        | NodeKind::Application
        | NodeKind::UnknownPrincipal
        | NodeKind::Root
        | NodeKind::ManagementGroup
        | NodeKind::Subscription
        | NodeKind::ResourceGroup
        | NodeKind::Resource
        | NodeKind::ManagedIdentity => return None,
        NodeKind::ExternalWorkload => {
            ("External workload", "A federated subject outside what was collected (issuer and subject).")
        }
        NodeKind::KubeClusterAdmin => {
            ("Kubernetes cluster admin", "Full control of one Kubernetes cluster (cluster-admin).")
        }
        NodeKind::KubeNamespace => {
            ("Kubernetes namespace", "A namespace: whoever runs pods in it runs as its service accounts.")
        }
        NodeKind::KubeAsoNamespace => {
            ("ASO in a namespace", "Azure Service Operator acting in one namespace with that namespace's credential.")
        }
        NodeKind::KubeNodes => {
            ("Kubernetes nodes", "The nodes of one cluster: a pod that breaks out reads the tokens mounted there.")
        }
        NodeKind::KubeAsoForgeable => (
            "ASO-federated identities",
            "Every identity federated to ASO's service account on one cluster (forgeable in relaxed mode).",
        ),
        NodeKind::ScopeIdentities => {
            ("Identities under a scope", "The user-assigned identities under one scope (federated-credential control).")
        }
        NodeKind::KubeServiceAccount => ("Kubernetes service account", "A Kubernetes service account."),
        NodeKind::KubeUser => ("Kubernetes user", "A Kubernetes user subject."),
        NodeKind::KubeGroup => ("Kubernetes group", "A Kubernetes group subject."),
        NodeKind::DirectoryRole => ("Entra directory role", "An Entra directory role held tenant-wide."),
        NodeKind::GraphPermission => {
            ("Microsoft Graph permission", "A Microsoft Graph application permission held by service principals.")
        }
        NodeKind::EntraTierZero => ("Entra tier zero", "Can assign any directory role, Global Administrator included."),
        NodeKind::EntraTargets => {
            ("Entra objects", "The objects a tenant-wide Entra power reaches (service principals, groups, users).")
        }
        NodeKind::KubeSubjectSet => (
            "Kubernetes subject set",
            "Whoever is all of several Kubernetes subjects: the union of their bindings holds a power none holds alone.",
        ),
    })
}

fn edge_description(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::MemberOf => "Direct Entra group membership.",
        EdgeKind::HasRole => {
            "An Azure role assignment (active, or PIM-eligible: `eligible`), custom roles and conditions evaluated."
        }
        EdgeKind::Contains => "The scope tree: a scope contains a child scope.",
        EdgeKind::CanWriteFederatedCredential => {
            "Can write federated credentials of a user-assigned identity (or at a scope), and so act as it."
        }
        EdgeKind::FederatedTrust => "A federated credential trusts this service account or external workload.",
        EdgeKind::AksClusterAdmin => {
            "Reaches a cluster's admin from Azure (admin credential, cluster write, Entra admin group)."
        }
        EdgeKind::KubernetesIdentity => {
            "An Entra user or group is this Kubernetes subject on an Entra-integrated cluster."
        }
        EdgeKind::CanCreateWorkloads => "Can create or change pods or workloads in the namespace.",
        EdgeKind::RunsAs => "Pods in the namespace can run as the service account.",
        EdgeKind::CanMintToken => "Can mint a token for the service account.",
        EdgeKind::CanReadSecrets => "Can read a Secret holding the account's token or the application's client secret.",
        EdgeKind::CanImpersonate => "Can impersonate the user, group or service account.",
        EdgeKind::CanEscalate => "Can bind or escalate Kubernetes RBAC to cluster-admin.",
        EdgeKind::NodeIdentity => {
            "Pods in the namespace reach the kubelet identity through the instance metadata service."
        }
        EdgeKind::CanUseAso => "Can create or change Azure Service Operator resources in the namespace.",
        EdgeKind::AsoActsAs => "ASO in the namespace acts as the Azure identity of its credential.",
        EdgeKind::AsoCredentialForging => {
            "Can create a Secret and an ASO resource in a namespace ASO watches: can forge an ASO credential (relaxed mode)."
        }
        EdgeKind::AsoForgeableIdentity => {
            "Federated to ASO's service account: a forged ASO credential naming it makes ASO act as it."
        }
        EdgeKind::PodManagedIdentity => {
            "Pods in the namespace get the identity's tokens (deprecated pod-managed identity)."
        }
        EdgeKind::NodeBreakout => {
            "A privileged pod breaks out onto the cluster's nodes (no Pod Security baseline enforced)."
        }
        EdgeKind::AksRunCommand => "AKS run command on a cluster without Entra integration runs as its admin.",
        EdgeKind::IdentityBinding => "An AKS identity binding lets the service account use the managed identity.",
        EdgeKind::CanAddCredential => {
            "Owner of the service principal or its application: can add a credential and sign in as it."
        }
        EdgeKind::CanAddMember => "Owner of the group: can add members and so hold its roles.",
        EdgeKind::CanRunAsResourceIdentity => "Can run code on a resource that carries the identity, and so act as it.",
        EdgeKind::CanAttachIdentity => "Can attach the user-assigned identity to compute it can write, and act as it.",
        EdgeKind::HasDirectoryRole => {
            "Holds an Entra directory role tenant-wide (active, or PIM-eligible: `eligible`)."
        }
        EdgeKind::HasGraphPermission => "Holds a Microsoft Graph application permission.",
        EdgeKind::CanManageCredentials => "Can add a credential to the service principal or its application.",
        EdgeKind::CanAssignDirectoryRoles => "Can assign directory roles, Global Administrator included.",
        EdgeKind::CanManageMembers => "Can change the members of a group that is not role-assignable.",
        EdgeKind::CanResetPassword => "Can reset the user's password or authentication methods.",
    }
}

fn capability_description(c: Capability) -> &'static str {
    match c {
        Capability::AssignRoles => {
            "Can assign any role at the target scope (Owner-equivalent), after denies and conditions."
        }
        Capability::AssignRolesLimited => "Can assign only some roles at the target scope (constrained delegation).",
        Capability::WriteEverything => {
            "Can create or change any resource at the target scope (Contributor-equivalent), custom roles included."
        }
        Capability::WriteRoleDefinitions => "Can change custom role definitions at the target scope.",
        Capability::ListAksAdminCredential => "Can list the AKS cluster's admin credential.",
        Capability::WriteAksCluster => "Can change the AKS cluster (re-enable local accounts).",
        Capability::WriteFederatedCredential => {
            "Can write federated credentials of a user-assigned identity (or at a scope), and so act as it."
        }
        Capability::AssignManagedIdentity => "Can assign user-assigned identities at the target scope.",
        Capability::RunCommand => "Can run commands on compute at the target scope, as its identities.",
        Capability::AksRunCommand => "Can run commands inside the AKS cluster.",
        Capability::RunCodeOnVm => "Can run code on virtual machines (run command, extension, write).",
        Capability::RunCodeOnVmss => "Can run code on virtual machine scale sets (run command, extension, write).",
        Capability::RunCodeOnSite => "Can deploy code to App Service and Functions sites.",
        Capability::RunCodeOnAutomation => "Can write and start Automation runbooks.",
        Capability::WriteLogicApp => "Can change Logic App workflows.",
        Capability::WriteContainerApp => "Can change container apps.",
        Capability::WriteContainerGroup => "Can change container groups.",
        Capability::RunDataFactoryPipeline => "Can write and run Data Factory pipelines.",
        Capability::WriteIdentityCarrier => "Can write compute that can carry a user-assigned identity.",
    }
}

/// AzureHound's node kind for an Azure or Entra object.
fn azurehound_kind(kind: NodeKind, id: &str) -> &'static str {
    match kind {
        NodeKind::User => "AZUser",
        NodeKind::Group => "AZGroup",
        NodeKind::ServicePrincipal | NodeKind::ManagedIdentity => "AZServicePrincipal",
        NodeKind::Application => "AZApp",
        NodeKind::Root => "AZTenant",
        NodeKind::ManagementGroup => "AZManagementGroup",
        NodeKind::Subscription => "AZSubscription",
        NodeKind::ResourceGroup => "AZResourceGroup",
        NodeKind::Resource => resource_kind(id),
        _ => "AZBase",
    }
}

/// AzureHound's kind for an ARM resource by its type; `AZBase` (every AzureHound node) for the others.
fn resource_kind(id: &str) -> &'static str {
    let id = id.to_ascii_lowercase();
    let types = [
        ("/providers/microsoft.containerservice/managedclusters/", "AZManagedCluster"),
        ("/providers/microsoft.compute/virtualmachines/", "AZVM"),
        ("/providers/microsoft.compute/virtualmachinescalesets/", "AZVMScaleSet"),
        ("/providers/microsoft.keyvault/vaults/", "AZKeyVault"),
        ("/providers/microsoft.containerregistry/registries/", "AZContainerRegistry"),
        ("/providers/microsoft.logic/workflows/", "AZLogicApp"),
        ("/providers/microsoft.automation/automationaccounts/", "AZAutomationAccount"),
    ];
    let named = |t: &str| id.find(t).is_some_and(|at| !id[at + t.len()..].contains('/'));
    types.iter().find(|(t, _)| named(t)).map_or("AZBase", |(_, k)| k)
}

/// An `AZP-` node id: the azpath id with `%` and `:` percent-encoded (BloodHound does not support colons).
pub fn own_id(id: &str) -> String {
    format!("{NAMESPACE}-{}", id.replace('%', "%25").replace(':', "%3A"))
}

/// What a reach edge says: the finding and tier it comes from, and who a deny (or the hop limit) cuts there.
struct Reach<'r> {
    finding: &'r Finding,
    query: &'r str,
    capabilities: &'r [String],
    excluded: &'r [&'r str],
}

/// Edge key: (kind, start, end).
type EdgeKey = (String, Endpoint, Endpoint);

/// Builds an export: nodes by id, edges merged by (kind, start, end).
struct Exporter<'a> {
    report: &'a Report,
    app_ids: HashMap<String, String>,
    tenant: Option<String>,
    names: HashMap<&'a str, &'a str>,
    nodes: BTreeMap<String, Node>,
    edges: BTreeMap<EdgeKey, BTreeMap<&'static str, Prop>>,
}

impl<'a> Exporter<'a> {
    fn new(report: &'a Report, snapshot: &Snapshot) -> Exporter<'a> {
        let app_ids = snapshot
            .entra
            .applications
            .iter()
            .filter_map(|a| Some((a.id.to_ascii_lowercase(), a.app_id.clone()?)))
            .collect();
        let tenant = snapshot.metadata.tenant_id.clone().filter(|t| !t.trim().is_empty());
        let mut names = HashMap::new();
        for f in &report.findings {
            let refs = [&f.principal, &f.scope].into_iter().chain(f.hops.iter().flat_map(|h| [&h.from, &h.to]));
            let samples = f.members.sample.iter().chain(f.tiers.iter().flat_map(|t| &t.targets.sample));
            for r in refs.chain(samples) {
                names.insert(r.id.as_str(), r.display_name.as_str());
            }
        }
        Exporter { report, app_ids, tenant, names, nodes: BTreeMap::new(), edges: BTreeMap::new() }
    }

    /// The endpoint of a node: AzureHound's id for an Azure object, else an `AZP-` node (added to the graph).
    fn endpoint(&mut self, kind: NodeKind, id: &str) -> Endpoint {
        match self.azure_id(kind, id) {
            Some(value) => Endpoint { match_by: "id", value, kind: azurehound_kind(kind, id).into() },
            None => {
                let (value, node_kind) = (own_id(id), self.own_kind(kind));
                self.nodes.entry(value.clone()).or_insert_with(|| {
                    let name = self.names.get(id).copied().filter(|n| !n.is_empty()).unwrap_or(id);
                    own_node_of(&value, &node_kind, kind, id, name)
                });
                Endpoint { match_by: "id", value, kind: node_kind }
            }
        }
    }

    /// AzureHound's id: upper-cased object id (applications by `appId`, managed identities by principal id,
    /// which is their node key), upper-cased ARM id, the tenant id for `/`; `None` for azpath's own nodes.
    fn azure_id(&self, kind: NodeKind, id: &str) -> Option<String> {
        match kind {
            NodeKind::Application => {
                Some(self.app_ids.get(&id.to_ascii_lowercase()).map_or(id, String::as_str).to_ascii_uppercase())
            }
            NodeKind::Root => self.tenant.as_ref().map(|t| t.trim().to_ascii_uppercase()),
            _ if own_node(kind).is_some() => None,
            _ => Some(id.to_ascii_uppercase()),
        }
    }

    fn own_kind(&self, kind: NodeKind) -> String {
        if kind == NodeKind::Root {
            ROOT_SCOPE.to_string()
        } else {
            az(kind.as_str())
        }
    }

    fn finding(&mut self, f: &'a Finding) {
        f.hops.iter().for_each(|h| self.hop(h));
        for tier in &f.tiers {
            let targets = tier.targets.nodes.iter().map(|n| (n.kind, n.id.as_str()));
            for (kind, target) in targets {
                let excluded: Vec<&str> =
                    tier.excluded.iter().filter(|[_, t]| t.id == target).map(|[p, _]| p.id.as_str()).collect();
                let reach =
                    Reach { finding: f, query: &tier.query_id, capabilities: &tier.capabilities, excluded: &excluded };
                if !excluded.contains(&f.principal.id.as_str()) {
                    self.reach(&reach, (f.principal.kind, &f.principal.id), (kind, target));
                    continue;
                }
                // A deny cuts the principal itself: its members that the deny spares reach the target directly.
                let members = self.report.members_of(f);
                let members = members.iter().flat_map(|m| m.members.iter().map(|n| (n.kind, n.id.as_str())));
                for (member_kind, member) in members {
                    if !excluded.contains(&member) && member != target {
                        self.reach(&reach, (member_kind, member), (kind, target));
                    }
                }
            }
        }
    }

    /// One step of a path.
    fn hop(&mut self, h: &Hop) {
        let mut props = BTreeMap::new();
        props.insert("azpathkind", Prop::Str(h.edge.as_str().to_string()));
        props.insert("label", Prop::Str(h.label.clone()));
        props.insert("detail", Prop::Str(h.detail.clone()));
        props.insert("evidence", Prop::List(h.evidence.clone()));
        props.insert("eligible", Prop::Bool(h.eligible));
        props.insert("conditional", Prop::Bool(h.conditional));
        self.edge(edge_kind(h.edge), (h.from.kind, &h.from.id), (h.to.kind, &h.to.id), props);
    }

    /// One reach edge per capability held at the target (or [`CAN_ACT_AS`]), from `from`.
    fn reach(&mut self, r: &Reach, from: (NodeKind, &str), to: (NodeKind, &str)) {
        let mut kinds: Vec<String> =
            r.capabilities.iter().filter_map(|c| Capability::parse(c)).map(capability_kind).collect();
        if kinds.is_empty() {
            kinds.push(CAN_ACT_AS.to_string());
        }
        for k in kinds {
            let mut props = BTreeMap::new();
            props.insert("queries", Prop::List(vec![r.query.to_string()]));
            props.insert("findings", Prop::List(vec![r.finding.id.clone()]));
            props.insert("severity", Prop::Str(r.finding.severity.as_str().to_string()));
            props.insert("reach", Prop::Str(r.finding.reach.as_str().to_string()));
            props.insert("eligible", Prop::Bool(r.finding.eligible));
            props.insert("conditional", Prop::Bool(r.finding.conditional));
            if from.1 == r.finding.principal.id && !r.excluded.is_empty() {
                props.insert("excludedmembers", Prop::List(r.excluded.iter().map(|m| m.to_string()).collect()));
            }
            self.edge(k, from, to, props);
        }
    }

    /// Adds an edge, merging with one of the same kind and endpoints: lists are united, `eligible` and
    /// `conditional` hold only when they hold for every merged edge, the highest severity and `standing`
    /// (held without escalating) win.
    fn edge(
        &mut self,
        kind: String,
        from: (NodeKind, &str),
        to: (NodeKind, &str),
        props: BTreeMap<&'static str, Prop>,
    ) {
        let start = self.endpoint(from.0, from.1);
        let end = self.endpoint(to.0, to.1);
        match self.edges.get_mut(&(kind.clone(), start.clone(), end.clone())) {
            None => {
                self.edges.insert((kind, start, end), props);
            }
            Some(old) => merge(old, props),
        }
    }

    fn finish(self) -> Export {
        let metadata = Metadata { source_kind: SOURCE_KIND };
        let mut export = Export {
            graph: Document {
                metadata: metadata.clone(),
                graph: Graph { nodes: self.nodes.into_values().collect(), edges: vec![] },
            },
            azure_edges: Document { metadata, graph: Graph::default() },
        };
        for ((kind, start, end), properties) in self.edges {
            let azure = !start.kind.starts_with(NAMESPACE) || !end.kind.starts_with(NAMESPACE);
            let doc = if azure { &mut export.azure_edges } else { &mut export.graph };
            doc.graph.edges.push(Edge { start, end, kind, properties });
        }
        export
    }
}

fn own_node_of(id: &str, kind: &str, node_kind: NodeKind, azpath_id: &str, name: &str) -> Node {
    let mut properties = BTreeMap::new();
    properties.insert("name", Prop::Str(name.to_string()));
    properties.insert("displayname", Prop::Str(name.to_string()));
    properties.insert("azpathid", Prop::Str(azpath_id.to_string()));
    properties.insert("azpathkind", Prop::Str(node_kind.as_str().to_string()));
    Node { id: id.to_string(), kinds: vec![kind.to_string()], properties }
}

fn merge(old: &mut BTreeMap<&'static str, Prop>, new: BTreeMap<&'static str, Prop>) {
    for (key, value) in new {
        let merged = match (old.remove(key), value) {
            (Some(Prop::List(a)), Prop::List(b)) => {
                Prop::List(a.into_iter().chain(b).collect::<BTreeSet<_>>().into_iter().collect())
            }
            (Some(Prop::Bool(a)), Prop::Bool(b)) => Prop::Bool(a && b),
            (Some(Prop::Str(a)), Prop::Str(b)) if key == "severity" => Prop::Str(higher_severity(a, b)),
            (Some(Prop::Str(a)), Prop::Str(b)) if key == "reach" => {
                Prop::Str(if a == "standing" || b == "standing" { "standing".into() } else { a })
            }
            (Some(old_value), _) => old_value,
            (None, value) => value,
        };
        old.insert(key, merged);
    }
}

fn higher_severity(a: String, b: String) -> String {
    match (Severity::parse(&a), Severity::parse(&b)) {
        (Some(x), Some(y)) if y > x => b,
        _ => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::findings::{Affected, NodeRef, Reach as FindingReach, Remediation};
    use azpath_graph::snapshot::Application;

    fn node(kind: NodeKind, id: &str) -> NodeRef {
        NodeRef { kind, id: id.into(), display_name: String::new() }
    }

    /// A report with one finding whose core is the given hops.
    fn report(hops: Vec<(NodeRef, EdgeKind, NodeRef)>) -> Report {
        let hops: Vec<Hop> = hops
            .into_iter()
            .map(|(from, edge, to)| Hop {
                from,
                to,
                edge,
                label: String::new(),
                evidence: vec!["e".into()],
                detail: String::new(),
                eligible: false,
                conditional: false,
                fix: None,
            })
            .collect();
        let finding = Finding {
            id: "f".into(),
            reach: FindingReach::Escalation,
            severity: Severity::High,
            principal: hops[0].from.clone(),
            scope: hops[hops.len() - 1].to.clone(),
            hops,
            eligible: false,
            conditional: false,
            members: Affected::default(),
            member_set: None,
            tiers: vec![],
            fix: String::new(),
            remediation: Remediation { summary: String::new(), command: None },
        };
        Report { findings: vec![finding], ..Default::default() }
    }

    fn ends(x: &Export) -> Vec<(String, String)> {
        let edges = x.graph.graph.edges.iter().chain(&x.azure_edges.graph.edges);
        edges.flat_map(|e| [&e.start, &e.end]).map(|e| (e.kind.clone(), e.value.clone())).collect()
    }

    const OWNER: &str = "aaaaaaaa-0000-0000-0000-000000000001";
    const APP_OBJECT: &str = "bbbbbbbb-0000-0000-0000-000000000002";
    const APP_ID: &str = "cccccccc-0000-0000-0000-000000000003";

    #[test]
    fn applications_are_matched_by_app_id_and_the_root_by_tenant_id() {
        let rep = report(vec![
            (node(NodeKind::User, OWNER), EdgeKind::CanAddCredential, node(NodeKind::Application, APP_OBJECT)),
            (node(NodeKind::Application, APP_OBJECT), EdgeKind::HasRole, node(NodeKind::Root, "/")),
        ]);
        let mut snap = Snapshot::default();
        snap.entra.applications.push(Application {
            id: APP_OBJECT.into(),
            app_id: Some(APP_ID.into()),
            ..Default::default()
        });
        snap.metadata.tenant_id = Some("dddddddd-0000-0000-0000-000000000004".into());
        let got = ends(&export(&rep, &snap));
        assert!(got.contains(&("AZApp".into(), APP_ID.to_ascii_uppercase())), "{got:?}");
        assert!(got.contains(&("AZTenant".into(), "DDDDDDDD-0000-0000-0000-000000000004".into())), "{got:?}");
        assert!(!got.iter().any(|(_, v)| v.eq_ignore_ascii_case(APP_OBJECT)), "{got:?}");

        // Without the application or the tenant id: the object id, and azpath's own root node.
        let got = ends(&export(&rep, &Snapshot::default()));
        assert!(got.contains(&("AZApp".into(), APP_OBJECT.to_ascii_uppercase())), "{got:?}");
        assert!(got.contains(&(ROOT_SCOPE.into(), "AZP-/".into())), "{got:?}");
    }

    #[test]
    fn own_ids_have_no_colon_and_resources_get_azurehound_kinds() {
        let workload = "https://token.actions.githubusercontent.com|repo:org/app:ref:refs/heads/main";
        assert_eq!(
            own_id(workload),
            "AZP-https%3A//token.actions.githubusercontent.com|repo%3Aorg/app%3Aref%3Arefs/heads/main"
        );
        assert_eq!(own_id("a%3Ab"), "AZP-a%253Ab", "a literal %3A stays distinct from an encoded colon");
        let aks = "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/aks1";
        assert_eq!(resource_kind(aks), "AZManagedCluster");
        assert_eq!(resource_kind(&format!("{aks}/agentpools/pool1")), "AZBase");
        assert_eq!(
            resource_kind("/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/x"),
            "AZBase"
        );
    }

    #[test]
    fn an_edge_between_own_nodes_stays_in_the_graph_file() {
        let sa = node(NodeKind::KubeServiceAccount, "/subscriptions/s/k8s/serviceaccounts/ns/sa");
        let ns = node(NodeKind::KubeNamespace, "/subscriptions/s/k8s/namespaces/ns");
        let mi = node(NodeKind::ManagedIdentity, OWNER);
        let rep = report(vec![(ns.clone(), EdgeKind::RunsAs, sa.clone()), (sa, EdgeKind::FederatedTrust, mi)]);
        let x = export(&rep, &Snapshot::default());
        let kinds = |d: &Document| d.graph.edges.iter().map(|e| e.kind.clone()).collect::<Vec<_>>();
        assert_eq!(kinds(&x.graph), ["AZP_RunsAs"]);
        assert_eq!(kinds(&x.azure_edges), ["AZP_FederatedTrust"]);
        assert_eq!(x.azure_edges.graph.edges[0].end.value, OWNER.to_ascii_uppercase());
        assert_eq!(x.graph.graph.nodes.len(), 2);
        assert!(x.azure_edges.graph.nodes.is_empty());
    }
}

//! Mock tenants: the files a person writes to describe a tenant, and their in-memory form.
//!
//! A tenant is a folder of API response bodies in the shapes Azure and Microsoft Graph return them (see
//! `mocks/README.md`), so a tenant can be written by copying real `az rest` / Graph Explorer output. Files are
//! read into the snapshot wire types of `azpath-graph`: the mock serves exactly what azpath's collectors parse,
//! and a typo in a tenant fails at load time with the file and field named, not as a puzzling empty finding.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use azpath_graph::snapshot::{
    AdministrativeUnitMembers, ApplicationFederatedCredentials, AzureData, DirectoryObject, EntraData, GroupMembers,
    Metadata, RoleDefinition, Snapshot,
};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Why a tenant could not be loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The IO failure.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON or a record does not have the expected shape.
    #[error("{file}: invalid at `{field}`: {message}")]
    Invalid {
        /// The file, relative to the tenant folder (`arm/roleAssignments.json`).
        file: String,
        /// JSON path of the offending field (`value[2].properties.scope`), `.` for the whole document.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// The tenant folder does not exist.
    #[error("{0}: no such tenant folder")]
    NotFound(String),
}

/// `tenant.json`: who the tenant is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    /// Entra tenant id (GUID).
    #[serde(default)]
    pub tenant_id: String,
    /// Organisation name.
    #[serde(default)]
    pub display_name: String,
    /// What the tenant is for.
    #[serde(default)]
    pub description: String,
}

/// One entry of `faults.json`: answer every request for `path` with an error `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Request path without query, compared case-insensitively
    /// (`/subscriptions/<id>/providers/Microsoft.Authorization/roleAssignments`).
    pub path: String,
    /// HTTP status to answer with (403, 404, 500, …).
    pub status: u16,
    /// Error message for the body; a default one per status otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A tenant to serve: ARM and Entra records plus injected faults.
///
/// `azure.role_definitions` holds the tenant's custom roles only; the built-ins of
/// [`builtin_role_definitions`] are always served beside them, as Azure does.
#[derive(Debug, Clone, Default)]
pub struct MockTenant {
    /// `tenant.json`.
    pub info: TenantInfo,
    /// ARM records (`arm/*.json`).
    pub azure: AzureData,
    /// Entra records (`graph/*.json`, `graph/members/<groupId>.json`).
    pub entra: EntraData,
    /// `faults.json`.
    pub faults: Vec<Fault>,
    /// Kubernetes dumps (`kube/<cluster>.json`), see [`crate::kube`].
    pub kube: Vec<crate::kube::KubeDump>,
}

/// Every file a tenant may have, relative to its folder. All are optional.
pub const TENANT_FILES: &[&str] = &[
    "tenant.json",
    "faults.json",
    "arm/subscriptions.json",
    "arm/managementGroups.json",
    "arm/resourceGroups.json",
    "arm/roleDefinitions.json",
    "arm/roleAssignments.json",
    "arm/denyAssignments.json",
    "arm/roleEligibilityScheduleInstances.json",
    "arm/userAssignedIdentities.json",
    "arm/federatedIdentityCredentials.json",
    "arm/managedClusters.json",
    "arm/identityBindings.json",
    "arm/connectedClusters.json",
    "arm/resources.json",
    "graph/users.json",
    "graph/groups.json",
    "graph/servicePrincipals.json",
    "graph/applications.json",
    "graph/directoryRoleDefinitions.json",
    "graph/directoryRoleAssignments.json",
    "graph/directoryRoleEligibilityScheduleInstances.json",
    "graph/appRoleAssignments.json",
    "graph/groupEligibilityScheduleInstances.json",
    "graph/administrativeUnits.json",
];

/// Folder of `<administrativeUnitId>.json` files, each the body of
/// `GET /directory/administrativeUnits/{id}/members`.
pub const UNIT_MEMBERS_DIR: &str = "graph/administrativeUnitMembers";

/// Folder of `<applicationObjectId>.json` files, each the body of `GET /applications/{id}/federatedIdentityCredentials`.
pub const APP_FICS_DIR: &str = "graph/applicationFederatedCredentials";

/// Where tenant files come from: a folder, or the tenants compiled into the binary.
trait Files {
    /// The text of `rel`, or `None` when the file does not exist.
    fn read(&self, rel: &str) -> Result<Option<String>, TenantError>;
    /// The file names (not paths) directly inside folder `rel`.
    fn list(&self, rel: &str) -> Result<Vec<String>, TenantError>;
}

struct DirFiles(PathBuf);

impl Files for DirFiles {
    fn read(&self, rel: &str) -> Result<Option<String>, TenantError> {
        let path = self.0.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(TenantError::Io { path: path.display().to_string(), source }),
        }
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, TenantError> {
        let path = self.0.join(rel);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(TenantError::Io { path: path.display().to_string(), source }),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| TenantError::Io { path: path.display().to_string(), source })?;
            if entry.path().is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

struct BundledFiles(&'static [(&'static str, &'static str)]);

impl Files for BundledFiles {
    fn read(&self, rel: &str) -> Result<Option<String>, TenantError> {
        Ok(self.0.iter().find(|(name, _)| *name == rel).map(|(_, text)| (*text).to_string()))
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, TenantError> {
        let prefix = format!("{rel}/");
        Ok(self
            .0
            .iter()
            .filter_map(|(name, _)| name.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }
}

/// Names of the tenants compiled into this crate (the folders of `mocks/tenants/`), sorted.
pub fn bundled_names() -> Vec<&'static str> {
    bundled::TENANTS.iter().map(|(name, _)| *name).collect()
}

/// The `expected.toml` of a bundled tenant, if it has one.
pub fn bundled_expected(name: &str) -> Option<&'static str> {
    let (_, files) = bundled::TENANTS.iter().find(|(n, _)| *n == name)?;
    files.iter().find(|(f, _)| *f == "expected.toml").map(|(_, text)| *text)
}

/// The folder holding the bundled tenants' sources (`mocks/tenants`) in this source tree.
pub fn tenants_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tenants")
}

/// The built-in role definitions served at every scope (`graph/data/builtin-roles.json`).
pub fn builtin_role_definitions() -> Vec<RoleDefinition> {
    azpath_graph::builtin::role_definitions().to_vec()
}

impl MockTenant {
    /// Reads a tenant folder. Missing files are empty lists; a malformed file is an error naming the file and
    /// the field.
    pub fn load(dir: impl AsRef<Path>) -> Result<MockTenant, TenantError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(TenantError::NotFound(dir.display().to_string()));
        }
        let mut tenant = Self::load_from(&DirFiles(dir.to_path_buf()))?;
        if tenant.info.display_name.is_empty() {
            tenant.info.display_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        }
        Ok(tenant)
    }

    /// A tenant compiled into this crate, by folder name (`demo`, `wildcard-actions`, …); see [`bundled_names`].
    ///
    /// # Panics
    /// If a bundled tenant is malformed, which the crate's tests rule out by loading every one.
    pub fn bundled(name: &str) -> Option<MockTenant> {
        let (name, files) = bundled::TENANTS.iter().find(|(n, _)| *n == name)?;
        let mut tenant =
            Self::load_from(&BundledFiles(files)).expect("bundled tenants are loaded by the crate's tests");
        if tenant.info.display_name.is_empty() {
            tenant.info.display_name = (*name).to_string();
        }
        Some(tenant)
    }

    /// Loads `name_or_dir` as a folder when one exists at that path, else as a bundled tenant name.
    pub fn load_or_bundled(name_or_dir: &str) -> Result<MockTenant, TenantError> {
        let path = Path::new(name_or_dir);
        if path.is_dir() {
            return Self::load(path);
        }
        Self::bundled(name_or_dir).ok_or_else(|| TenantError::NotFound(name_or_dir.to_string()))
    }

    fn load_from(files: &dyn Files) -> Result<MockTenant, TenantError> {
        fn list<T: DeserializeOwned>(files: &dyn Files, rel: &str) -> Result<Vec<T>, TenantError> {
            match files.read(rel)? {
                Some(text) => parse_list(&text, rel),
                None => Ok(Vec::new()),
            }
        }
        let info = match files.read("tenant.json")? {
            Some(text) => parse_one(&text, "tenant.json")?,
            None => TenantInfo::default(),
        };
        let mut tenant = MockTenant {
            info,
            azure: AzureData {
                management_groups: list(files, "arm/managementGroups.json")?,
                subscriptions: list(files, "arm/subscriptions.json")?,
                resource_groups: list(files, "arm/resourceGroups.json")?,
                role_definitions: list(files, "arm/roleDefinitions.json")?,
                role_assignments: list(files, "arm/roleAssignments.json")?,
                role_eligibility_schedule_instances: list(files, "arm/roleEligibilityScheduleInstances.json")?,
                deny_assignments: list(files, "arm/denyAssignments.json")?,
                user_assigned_identities: list(files, "arm/userAssignedIdentities.json")?,
                federated_identity_credentials: list(files, "arm/federatedIdentityCredentials.json")?,
                managed_clusters: list(files, "arm/managedClusters.json")?,
                identity_bindings: list(files, "arm/identityBindings.json")?,
                connected_clusters: list(files, "arm/connectedClusters.json")?,
                identity_resources: list(files, "arm/resources.json")?,
            },
            entra: EntraData {
                users: list(files, "graph/users.json")?,
                groups: list(files, "graph/groups.json")?,
                service_principals: list(files, "graph/servicePrincipals.json")?,
                applications: list(files, "graph/applications.json")?,
                group_members: Vec::new(),
                directory_role_definitions: list(files, "graph/directoryRoleDefinitions.json")?,
                directory_role_assignments: list(files, "graph/directoryRoleAssignments.json")?,
                directory_role_eligibility_schedule_instances: list(
                    files,
                    "graph/directoryRoleEligibilityScheduleInstances.json",
                )?,
                app_role_assignments: list(files, "graph/appRoleAssignments.json")?,
                group_eligibility_schedule_instances: list(files, "graph/groupEligibilityScheduleInstances.json")?,
                administrative_units: list(files, "graph/administrativeUnits.json")?,
                ..Default::default()
            },
            faults: list(files, "faults.json")?,
            kube: crate::kube::load(files.list(crate::kube::KUBE_DIR)?, |rel| files.read(rel))?,
        };
        if let Some(i) = tenant.faults.iter().position(|f| !(400..=599).contains(&f.status)) {
            return Err(TenantError::Invalid {
                file: "faults.json".into(),
                field: format!("[{i}].status"),
                message: format!("{} is not an HTTP error status (400-599)", tenant.faults[i].status),
            });
        }
        for name in files.list("graph/members")? {
            let Some(group_id) = name.strip_suffix(".json") else { continue };
            let rel = format!("graph/members/{name}");
            let members: Vec<DirectoryObject> = list(files, &rel)?;
            tenant.entra.group_members.push(GroupMembers { group_id: group_id.to_string(), members });
        }
        for name in files.list(UNIT_MEMBERS_DIR)? {
            let Some(unit_id) = name.strip_suffix(".json") else { continue };
            let members = list(files, &format!("{UNIT_MEMBERS_DIR}/{name}"))?;
            let unit = AdministrativeUnitMembers { administrative_unit_id: unit_id.to_string(), members };
            tenant.entra.administrative_unit_members.push(unit);
        }
        for name in files.list(APP_FICS_DIR)? {
            let Some(application_id) = name.strip_suffix(".json") else { continue };
            let credentials = list(files, &format!("{APP_FICS_DIR}/{name}"))?;
            tenant
                .entra
                .application_federated_credentials
                .push(ApplicationFederatedCredentials { application_id: application_id.to_string(), credentials });
        }
        tenant.fill_member_types();
        Ok(tenant)
    }

    /// Gives each group member without `@odata.type` the type of the directory object with its id, as Graph
    /// always sends one.
    fn fill_member_types(&mut self) {
        let e = &self.entra;
        let mut kinds: HashMap<String, &'static str> = HashMap::new();
        kinds.extend(e.users.iter().map(|u| (u.id.to_ascii_lowercase(), "#microsoft.graph.user")));
        kinds.extend(e.groups.iter().map(|g| (g.id.to_ascii_lowercase(), "#microsoft.graph.group")));
        kinds.extend(
            e.service_principals.iter().map(|s| (s.id.to_ascii_lowercase(), "#microsoft.graph.servicePrincipal")),
        );
        for members in &mut self.entra.group_members {
            for m in &mut members.members {
                if m.odata_type.is_none() {
                    m.odata_type = kinds.get(&m.id.to_ascii_lowercase()).map(|k| (*k).into());
                }
            }
        }
    }

    /// Writes the tenant as a folder in the format [`MockTenant::load`] reads (one `{"value":[...]}` file per
    /// collection, one members file per group), creating it if needed. Files of the same names are replaced and
    /// other files are left alone, so write into a new or empty folder. Streams each file, so it scales to
    /// generated tenants.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<(), TenantError> {
        let dir = dir.as_ref();
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| TenantError::Io { path, source }
        };
        for sub in ["arm", "graph/members", APP_FICS_DIR] {
            std::fs::create_dir_all(dir.join(sub)).map_err(io(&dir.join(sub)))?;
        }
        /// Large lists are written compactly; small ones pretty, for people to read and edit.
        fn put<T: Serialize + ?Sized>(path: &Path, body: &T, pretty: bool) -> Result<(), TenantError> {
            let err = |source| TenantError::Io { path: path.display().to_string(), source };
            let file = std::fs::File::create(path).map_err(err)?;
            let mut w = BufWriter::new(file);
            let written =
                if pretty { serde_json::to_writer_pretty(&mut w, body) } else { serde_json::to_writer(&mut w, body) };
            written.map_err(|e| err(e.into()))?;
            w.write_all(b"\n").map_err(err)?;
            w.flush().map_err(err)
        }
        fn list<T: Serialize>(path: &Path, value: &[T]) -> Result<(), TenantError> {
            #[derive(Serialize)]
            struct Body<'a, T> {
                value: &'a [T],
            }
            put(path, &Body { value }, value.len() <= 10_000)
        }
        let (a, e) = (&self.azure, &self.entra);
        put(&dir.join("tenant.json"), &self.info, true)?;
        if !self.faults.is_empty() {
            put(&dir.join("faults.json"), &self.faults, true)?;
        }
        list(&dir.join("arm/subscriptions.json"), &a.subscriptions)?;
        list(&dir.join("arm/managementGroups.json"), &a.management_groups)?;
        list(&dir.join("arm/resourceGroups.json"), &a.resource_groups)?;
        list(&dir.join("arm/roleDefinitions.json"), &a.role_definitions)?;
        list(&dir.join("arm/roleAssignments.json"), &a.role_assignments)?;
        list(&dir.join("arm/denyAssignments.json"), &a.deny_assignments)?;
        list(&dir.join("arm/roleEligibilityScheduleInstances.json"), &a.role_eligibility_schedule_instances)?;
        list(&dir.join("arm/userAssignedIdentities.json"), &a.user_assigned_identities)?;
        list(&dir.join("arm/federatedIdentityCredentials.json"), &a.federated_identity_credentials)?;
        list(&dir.join("arm/managedClusters.json"), &a.managed_clusters)?;
        list(&dir.join("arm/identityBindings.json"), &a.identity_bindings)?;
        list(&dir.join("arm/connectedClusters.json"), &a.connected_clusters)?;
        list(&dir.join("arm/resources.json"), &a.identity_resources)?;
        list(&dir.join("graph/users.json"), &e.users)?;
        list(&dir.join("graph/groups.json"), &e.groups)?;
        list(&dir.join("graph/servicePrincipals.json"), &e.service_principals)?;
        list(&dir.join("graph/applications.json"), &e.applications)?;
        list(&dir.join("graph/directoryRoleDefinitions.json"), &e.directory_role_definitions)?;
        list(&dir.join("graph/directoryRoleAssignments.json"), &e.directory_role_assignments)?;
        list(
            &dir.join("graph/directoryRoleEligibilityScheduleInstances.json"),
            &e.directory_role_eligibility_schedule_instances,
        )?;
        list(&dir.join("graph/appRoleAssignments.json"), &e.app_role_assignments)?;
        list(&dir.join("graph/groupEligibilityScheduleInstances.json"), &e.group_eligibility_schedule_instances)?;
        crate::kube::write(&self.kube, dir)?;
        for g in &e.group_members {
            list(&dir.join(format!("graph/members/{}.json", g.group_id)), &g.members)?;
        }
        for f in &e.application_federated_credentials {
            list(&dir.join(format!("{APP_FICS_DIR}/{}.json", f.application_id)), &f.credentials)?;
        }
        if !e.administrative_units.is_empty() {
            list(&dir.join("graph/administrativeUnits.json"), &e.administrative_units)?;
        }
        for u in &e.administrative_unit_members {
            list(&dir.join(format!("{UNIT_MEMBERS_DIR}/{}.json", u.administrative_unit_id)), &u.members)?;
        }
        Ok(())
    }

    /// The snapshot a complete, fault-free collection of this tenant would produce (built-in roles included),
    /// for tests and benchmarks that skip the HTTP round trip. As over HTTP, where federated credentials are
    /// listed per identity, a credential whose identity is not in `arm/userAssignedIdentities.json` is left out.
    pub fn to_snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::new(Metadata {
            tool_version: "azpath-mocks".into(),
            cloud: "custom".into(),
            tenant_id: Some(self.info.tenant_id.clone()).filter(|t| !t.is_empty()),
            ..Default::default()
        });
        snapshot.azure = self.azure.clone();
        snapshot.azure.role_definitions.extend(builtin_role_definitions());
        let identities: std::collections::HashSet<String> =
            self.azure.user_assigned_identities.iter().map(|i| i.id.to_ascii_lowercase()).collect();
        snapshot
            .azure
            .federated_identity_credentials
            .retain(|c| fic_parent(&c.id).is_some_and(|parent| identities.contains(&parent.to_ascii_lowercase())));
        snapshot.entra = self.entra.clone();
        crate::kube::attach(self, &mut snapshot);
        snapshot.normalize();
        snapshot
    }

    /// Number of directory objects and scopes (users, groups, service principals, applications, management
    /// groups, subscriptions, resource groups): the node count a graph of this tenant starts from.
    pub fn node_count(&self) -> usize {
        let (a, e) = (&self.azure, &self.entra);
        e.users.len()
            + e.groups.len()
            + e.service_principals.len()
            + e.applications.len()
            + a.management_groups.len()
            + a.subscriptions.len()
            + a.resource_groups.len()
    }
}

/// The identity a federated credential belongs to: its id up to `/federatedIdentityCredentials/{name}`.
pub(crate) fn fic_parent(id: &str) -> Option<&str> {
    let lower = id.to_ascii_lowercase();
    let at = lower.rfind("/federatedidentitycredentials/")?;
    Some(&id[..at])
}

/// Parses one JSON object (e.g. `tenant.json`), naming `file` and the field on error.
fn parse_one<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, TenantError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| invalid(file, e))
}

/// Parses a list file: `{"value":[...]}`, a bare `[...]`, or a REST spec example
/// `{"responses":{"200":{"body":...}}}` whose body is either of those or a single record.
pub(crate) fn parse_list<T: DeserializeOwned>(text: &str, file: &str) -> Result<Vec<T>, TenantError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    // A file's records share their repeated values (scopes, role definition and principal ids).
    let body: ListBody<T> = azpath_graph::snapshot::Interner::new()
        .scope(|| serde_path_to_error::deserialize(de))
        .map_err(|e| invalid(file, e))?;
    match body {
        ListBody::Items(items) => Ok(items),
        ListBody::Example(body) => {
            let shaped = match body {
                serde_json::Value::Object(ref map) if !map.contains_key("value") => {
                    serde_json::Value::Array(vec![body])
                }
                other => other,
            };
            let text = shaped.to_string();
            let de = &mut serde_json::Deserializer::from_str(&text);
            let inner: ListBody<T> = serde_path_to_error::deserialize(de).map_err(|e| {
                let mut err = invalid(file, e);
                if let TenantError::Invalid { field, .. } = &mut err {
                    *field = format!("responses.200.body.{field}");
                }
                err
            })?;
            match inner {
                ListBody::Items(items) => Ok(items),
                ListBody::Example(_) => Err(TenantError::Invalid {
                    file: file.into(),
                    field: "responses.200.body".into(),
                    message: "a spec example body must be a list body or one record".into(),
                }),
            }
        }
    }
}

fn invalid(file: &str, e: serde_path_to_error::Error<serde_json::Error>) -> TenantError {
    TenantError::Invalid { file: file.to_string(), field: e.path().to_string(), message: e.inner().to_string() }
}

/// The accepted shapes of a list file, decided while streaming so that record errors keep their JSON path.
enum ListBody<T> {
    Items(Vec<T>),
    /// The success body of a spec example, to be read again as a list body.
    Example(serde_json::Value),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for ListBody<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = ListBody<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a list body {"value":[...]}, a JSON array, or a spec example {"responses":{"200":{"body":...}}}"#)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ListBody::Items(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "value" => out = Some(ListBody::Items(map.next_value()?)),
                        "responses" => {
                            let responses: HashMap<String, Response> = map.next_value()?;
                            let body = ["200", "201"]
                                .iter()
                                .find_map(|code| responses.get(*code).map(|r| r.body.clone()))
                                .ok_or_else(|| serde::de::Error::custom("spec example has no 200 or 201 response"))?;
                            out = Some(ListBody::Example(body));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                out.ok_or_else(|| serde::de::Error::custom("expected a `value` list or a spec example `responses`"))
            }
        }
        #[derive(Deserialize)]
        struct Response {
            #[serde(default)]
            body: serde_json::Value,
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::snapshot::RoleAssignment;

    #[test]
    fn reads_value_array_and_spec_example_shapes() {
        let rec = r#"{"id":"/x","properties":{"scope":"/","roleDefinitionId":"r","principalId":"p"}}"#;
        let shapes = [
            format!(r#"{{"value":[{rec}],"nextLink":null}}"#),
            format!("[{rec}]"),
            format!(r#"{{"parameters":{{}},"responses":{{"200":{{"body":{{"value":[{rec}]}}}}}}}}"#),
            format!(r#"{{"responses":{{"201":{{"body":{rec}}}}}}}"#),
        ];
        for text in shapes {
            let v: Vec<RoleAssignment> = parse_list(&text, "f.json").unwrap();
            assert_eq!(v.len(), 1, "{text}");
            assert_eq!(v[0].properties.principal_id, "p");
        }
    }

    #[test]
    fn bad_record_names_file_and_field() {
        let text = r#"{"value":[{"id":"/x","properties":{"scope":"/","roleDefinitionId":"r","principalId":7}}]}"#;
        let err = parse_list::<RoleAssignment>(text, "arm/roleAssignments.json").unwrap_err().to_string();
        assert!(err.contains("arm/roleAssignments.json"), "{err}");
        assert!(err.contains("value[0].properties.principalId"), "{err}");
    }

    #[test]
    fn bad_record_in_spec_example_names_field() {
        let text = r#"{"responses":{"200":{"body":{"value":[{"id":5,"properties":{}}]}}}}"#;
        let err = parse_list::<RoleAssignment>(text, "a.json").unwrap_err().to_string();
        assert!(err.contains("responses.200.body.value[0]"), "{err}");
    }

    #[test]
    fn other_shapes_are_errors_not_panics() {
        for text in ["", "5", "{}", r#"{"value":3}"#, r#"{"responses":{"404":{}}}"#, "[1,"] {
            assert!(parse_list::<RoleAssignment>(text, "a.json").is_err(), "{text}");
        }
    }

    #[test]
    fn builtin_roles_parse() {
        assert!(builtin_role_definitions().len() >= 18);
    }
}

//! Azure's built-in role definitions, bundled so that assignments of built-in roles are evaluated even when
//! a snapshot lacks their definitions (e.g. a hand-written tenant). Definitions in the snapshot take
//! precedence.

use std::sync::OnceLock;

use crate::snapshot::RoleDefinition;

const BUILTIN_ROLES_JSON: &str = include_str!("../data/builtin-roles.json");

/// The bundled built-in role definitions (ARM shape).
pub fn role_definitions() -> &'static [RoleDefinition] {
    static ROLES: OnceLock<Vec<RoleDefinition>> = OnceLock::new();
    ROLES.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct List {
            value: Vec<RoleDefinition>,
        }
        serde_json::from_str::<List>(BUILTIN_ROLES_JSON).expect("bundled builtin-roles.json is valid (tested)").value
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{Capability, PermissionSet};

    fn caps_of(name: &str) -> crate::rbac::Caps {
        let d = role_definitions().iter().find(|d| d.properties.role_name == name).expect(name);
        PermissionSet::new(d.properties.permissions.clone()).capabilities()
    }

    #[test]
    fn builtins_parse_and_have_expected_capabilities() {
        assert!(caps_of("Owner").contains(Capability::AssignRoles));
        assert!(caps_of("Contributor").contains(Capability::WriteEverything));
        assert!(!caps_of("Contributor").contains(Capability::AssignRoles));
        assert!(caps_of("User Access Administrator").contains(Capability::AssignRoles));
        assert!(caps_of("Role Based Access Control Administrator").contains(Capability::AssignRoles));
        assert!(caps_of("Azure Kubernetes Service Cluster Admin Role").contains(Capability::ListAksAdminCredential));
    }
}

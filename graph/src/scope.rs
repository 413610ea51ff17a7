//! ARM scope ids: normalization and the parent relation that the id itself implies.
//!
//! Scope ids are case-insensitive everywhere in Azure, so azpath keys them lower-cased. Parents of
//! subscriptions and management groups come from the management-group tree, not from the id.

/// The tenant root scope.
pub const ROOT: &str = "/";

/// Lower-cases a scope id, trims whitespace and trailing slashes, and makes sure it starts with `/`.
pub fn normalize(scope: &str) -> String {
    let t = scope.trim().trim_end_matches('/');
    if t.is_empty() {
        return ROOT.to_string();
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with('/') {
        lower
    } else {
        format!("/{lower}")
    }
}

/// Normalizes a scope that must be given: `None` when it is empty or blank. Unlike [`normalize`], an empty
/// scope never becomes the tenant root; the root is only `/` given explicitly.
pub fn normalize_nonempty(scope: &str) -> Option<String> {
    let t = scope.trim();
    if t.is_empty() {
        return None;
    }
    Some(normalize(t))
}

/// The `Microsoft.Authorization` record types whose id is `{scope}/providers/Microsoft.Authorization/{type}/{name}`.
const SCOPED_RECORD_TYPES: &[&str] =
    &["roleassignments", "roleeligibilityscheduleinstances", "roleassignmentscheduleinstances", "denyassignments"];

/// The scope embedded in the id of a role assignment, PIM schedule instance or deny assignment
/// (`{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`), normalized. `None` when the id does
/// not have that shape or embeds no scope: the root is never inferred from an id.
pub fn scope_of_record_id(id: &str) -> Option<String> {
    const MARK: &str = "/providers/microsoft.authorization/";
    let lower = id.trim().trim_end_matches('/').to_ascii_lowercase();
    let at = lower.rfind(MARK)?;
    let (kind, name) = lower[at + MARK.len()..].split_once('/')?;
    if !SCOPED_RECORD_TYPES.contains(&kind) || name.is_empty() || name.contains('/') {
        return None;
    }
    normalize_nonempty(&lower[..at])
}

/// The scope of an authorization record: its `scope` field when given, else the scope its id embeds
/// ([`scope_of_record_id`]); `None` when neither says, so the caller drops the record rather than widen it.
pub fn record_scope(scope: &str, id: &str) -> Option<String> {
    normalize_nonempty(scope).or_else(|| scope_of_record_id(id))
}

/// The level of a (normalized) scope in the ARM hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `/`.
    Root,
    /// `/providers/microsoft.management/managementgroups/{name}`.
    ManagementGroup,
    /// `/subscriptions/{id}`.
    Subscription,
    /// `/subscriptions/{id}/resourcegroups/{name}`.
    ResourceGroup,
    /// Anything longer.
    Resource,
}

const MG_PREFIX: &str = "/providers/microsoft.management/managementgroups/";

/// Classifies a normalized scope.
pub fn level(scope: &str) -> Level {
    if scope == ROOT {
        return Level::Root;
    }
    if let Some(rest) = scope.strip_prefix(MG_PREFIX) {
        if !rest.contains('/') {
            return Level::ManagementGroup;
        }
    }
    let segs: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["subscriptions", _] => Level::Subscription,
        ["subscriptions", _, "resourcegroups", _] => Level::ResourceGroup,
        _ => Level::Resource,
    }
}

/// The normalized id of a management group by name.
pub fn management_group(name: &str) -> String {
    format!("{MG_PREFIX}{}", name.to_ascii_lowercase())
}

/// The name of a management group from its normalized id.
pub fn management_group_name(scope: &str) -> Option<&str> {
    scope.strip_prefix(MG_PREFIX).filter(|r| !r.contains('/'))
}

/// The subscription scope (`/subscriptions/{id}`) a normalized scope lies in.
pub fn subscription_of(scope: &str) -> Option<&str> {
    let rest = scope.strip_prefix("/subscriptions/")?;
    let end = rest.find('/').map(|i| i + "/subscriptions/".len()).unwrap_or(scope.len());
    Some(&scope[..end])
}

/// The resource group scope a normalized scope lies in.
pub fn resource_group_of(scope: &str) -> Option<&str> {
    let segs: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
    if segs.len() >= 4 && segs[0] == "subscriptions" && segs[2] == "resourcegroups" {
        let len = 1 + segs[..4].join("/").len();
        return Some(&scope[..len]);
    }
    None
}

/// The parent the id implies: resource → parent resource or resource group (or subscription), resource
/// group → subscription. `None` for subscriptions, management groups and root, whose parents come from the
/// management-group tree.
pub fn implied_parent(scope: &str) -> Option<String> {
    match level(scope) {
        Level::Root | Level::ManagementGroup | Level::Subscription => None,
        Level::ResourceGroup => subscription_of(scope).map(str::to_string),
        Level::Resource => {
            let segs: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
            // Find the last `providers/{namespace}` and the (type, name) pairs after it.
            let Some(p) = segs.iter().rposition(|s| *s == "providers") else {
                return subscription_of(scope).map(str::to_string);
            };
            let pairs = segs.len().saturating_sub(p + 2) / 2;
            if pairs > 1 {
                Some(format!("/{}", segs[..segs.len() - 2].join("/")))
            } else if p == 0 {
                Some(ROOT.to_string())
            } else {
                Some(format!("/{}", segs[..p].join("/")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_trims() {
        assert_eq!(normalize("/Subscriptions/ABC/"), "/subscriptions/abc");
        assert_eq!(normalize(""), "/");
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize("subscriptions/x"), "/subscriptions/x");
    }

    #[test]
    fn empty_scope_is_not_the_root() {
        assert_eq!(normalize_nonempty(""), None);
        assert_eq!(normalize_nonempty("  "), None);
        assert_eq!(normalize_nonempty("/").as_deref(), Some("/"));
        assert_eq!(normalize_nonempty("/Subscriptions/S/").as_deref(), Some("/subscriptions/s"));
    }

    #[test]
    fn record_scope_falls_back_to_the_id() {
        let rg = "/subscriptions/s/resourceGroups/RG";
        let ra = format!("{rg}/providers/Microsoft.Authorization/roleAssignments/g");
        assert_eq!(record_scope("/subscriptions/s", &ra).as_deref(), Some("/subscriptions/s"), "scope wins");
        assert_eq!(record_scope("", &ra).as_deref(), Some("/subscriptions/s/resourcegroups/rg"));
        let ei = format!("{rg}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances/g");
        assert_eq!(record_scope(" ", &ei).as_deref(), Some("/subscriptions/s/resourcegroups/rg"));
        let deny = "/subscriptions/s/providers/Microsoft.Authorization/denyAssignments/g";
        assert_eq!(record_scope("", deny).as_deref(), Some("/subscriptions/s"));
        let mg =
            "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/roleAssignments/g";
        assert_eq!(record_scope("", mg).as_deref(), Some("/providers/microsoft.management/managementgroups/mg"));
        // Never the root from an id, never from a malformed id.
        for id in [
            "/providers/Microsoft.Authorization/roleAssignments/g",
            "ra-1",
            "",
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/g",
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/",
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/g/extra",
        ] {
            assert_eq!(record_scope("", id), None, "{id}");
        }
        assert_eq!(record_scope("/", "ra-1").as_deref(), Some("/"), "an explicit root stays");
    }

    #[test]
    fn levels() {
        assert_eq!(level("/"), Level::Root);
        assert_eq!(level(&management_group("Contoso")), Level::ManagementGroup);
        assert_eq!(level("/subscriptions/s"), Level::Subscription);
        assert_eq!(level("/subscriptions/s/resourcegroups/rg"), Level::ResourceGroup);
        assert_eq!(
            level("/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm"),
            Level::Resource
        );
    }

    #[test]
    fn implied_parents() {
        let vm = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm";
        assert_eq!(implied_parent(vm).as_deref(), Some("/subscriptions/s/resourcegroups/rg"));
        let ext =
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/c/namespaces/ns";
        assert_eq!(
            implied_parent(ext).as_deref(),
            Some("/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/c")
        );
        assert_eq!(implied_parent("/subscriptions/s/resourcegroups/rg").as_deref(), Some("/subscriptions/s"));
        assert_eq!(implied_parent("/subscriptions/s"), None);
        assert_eq!(subscription_of(vm), Some("/subscriptions/s"));
        assert_eq!(resource_group_of(vm), Some("/subscriptions/s/resourcegroups/rg"));
        assert_eq!(subscription_of("/"), None);
    }
}

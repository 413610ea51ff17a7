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

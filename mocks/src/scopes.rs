//! The scope tree of a mock tenant: which scope is above which, so listings can be filtered like Azure does.
//!
//! Management groups may state their parent (`properties.details.parent.id`) or their children
//! (`properties.children[]`, nested when recursed); either direction is enough, the other is derived here.
//! All keys are lower-cased: ARM ids are case-insensitive.

use std::collections::HashMap;

use azpath_graph::snapshot::{ManagementGroup, ManagementGroupChild};

/// Lower-cases an ARM scope and drops a trailing `/`; the empty scope is the root `/`.
pub(crate) fn normalize(scope: &str) -> String {
    let s = scope.trim().trim_end_matches('/').to_ascii_lowercase();
    if s.is_empty() {
        "/".to_string()
    } else {
        s
    }
}

const MG_PREFIX: &str = "/providers/microsoft.management/managementgroups/";

/// A child of a management group, as shown by `GET …/managementGroups/{name}?$expand=children`.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    /// Original-case id.
    pub id: String,
    /// `Microsoft.Management/managementGroups` or `/subscriptions`.
    pub kind: &'static str,
    pub name: String,
    pub display_name: Option<String>,
}

pub(crate) const MG_TYPE: &str = "Microsoft.Management/managementGroups";
pub(crate) const SUB_CHILD_TYPE: &str = "/subscriptions";

/// Parent and child relations between management groups and subscriptions.
#[derive(Debug, Default)]
pub(crate) struct ScopeTree {
    /// Lower-cased child id (MG or subscription) → original-case parent MG id.
    parent: HashMap<String, String>,
    /// Lower-cased MG id → direct children.
    children: HashMap<String, Vec<Child>>,
}

impl ScopeTree {
    /// Builds the tree from management groups and subscription display names (id → name).
    pub fn new(groups: &[ManagementGroup], sub_names: &HashMap<String, Option<String>>) -> Self {
        let mut tree = ScopeTree::default();
        let mg_names: HashMap<String, Option<String>> =
            groups.iter().map(|g| (normalize(&g.id), g.properties.display_name.clone())).collect();
        for g in groups {
            if let Some(parent) = g.properties.details.as_ref().and_then(|d| d.parent.as_ref()?.id.as_ref()) {
                tree.link(parent, &g.id, &mg_names, sub_names);
            }
            if let Some(children) = &g.properties.children {
                tree.link_children(&g.id, children, &mg_names, sub_names);
            }
        }
        tree
    }

    fn link_children(
        &mut self,
        parent: &str,
        children: &[ManagementGroupChild],
        mg_names: &HashMap<String, Option<String>>,
        sub_names: &HashMap<String, Option<String>>,
    ) {
        for c in children {
            self.link(parent, &c.id, mg_names, sub_names);
            if let Some(grand) = &c.children {
                self.link_children(&c.id, grand, mg_names, sub_names);
            }
        }
    }

    fn link(
        &mut self,
        parent: &str,
        child: &str,
        mg_names: &HashMap<String, Option<String>>,
        sub_names: &HashMap<String, Option<String>>,
    ) {
        let key = normalize(child);
        if key == normalize(parent) || self.parent.contains_key(&key) {
            return;
        }
        self.parent.insert(key.clone(), parent.to_string());
        let is_sub = key.starts_with("/subscriptions/");
        let name = child.rsplit('/').next().unwrap_or_default().to_string();
        let display_name = if is_sub { sub_names.get(&key) } else { mg_names.get(&key) }.cloned().flatten();
        self.children.entry(normalize(parent)).or_default().push(Child {
            id: child.to_string(),
            kind: if is_sub { SUB_CHILD_TYPE } else { MG_TYPE },
            name,
            display_name,
        });
    }

    /// The parent management group of an MG or subscription id (original case).
    pub fn parent(&self, id: &str) -> Option<&str> {
        self.parent.get(&normalize(id)).map(String::as_str)
    }

    /// Direct children of a management group.
    pub fn children(&self, mg_id: &str) -> &[Child] {
        self.children.get(&normalize(mg_id)).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `scope` itself and every scope above it, lower-cased, nearest first, ending with `/`.
    ///
    /// Below a subscription every path prefix counts (`…/resourcegroups/rg`, `…/providers/x/y/z`), which is
    /// how ARM resource scopes nest.
    pub fn ancestors(&self, scope: &str) -> Vec<String> {
        let s = normalize(scope);
        if s == "/" {
            return vec![s];
        }
        let mut out = Vec::new();
        let mut up = if let Some(rest) = s.strip_prefix("/subscriptions/") {
            let segments: Vec<&str> = rest.split('/').collect();
            for n in (1..=segments.len()).rev() {
                out.push(format!("/subscriptions/{}", segments[..n].join("/")));
            }
            self.parent.get(out.last().expect("at least the subscription"))
        } else {
            out.push(s.clone());
            self.parent.get(&s)
        };
        while let Some(p) = up {
            let p = normalize(p);
            if out.contains(&p) {
                break; // a parent cycle in a hand-written tenant: stop rather than loop
            }
            up = self.parent.get(&p);
            out.push(p);
        }
        out.push("/".to_string());
        out
    }

    /// Every management group and subscription below `mg_id`, depth first, each with its parent's id.
    pub fn descendants(&self, mg_id: &str) -> Vec<(&Child, &str)> {
        let mut out = Vec::new();
        let mut stack = vec![normalize(mg_id)];
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            for c in self.children.get(&id).map(Vec::as_slice).unwrap_or(&[]) {
                out.push((c, self.parent(&c.id).unwrap_or_default()));
                if c.kind == MG_TYPE {
                    stack.push(normalize(&c.id));
                }
            }
        }
        out
    }

    /// Whether `id` names a management group scope.
    pub fn is_management_group(id: &str) -> bool {
        normalize(id).starts_with(MG_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azpath_graph::snapshot::{ManagementGroupDetails, ManagementGroupProperties, ParentRef};

    fn mg(name: &str, parent: Option<&str>, children: Vec<ManagementGroupChild>) -> ManagementGroup {
        ManagementGroup {
            id: format!("/providers/Microsoft.Management/managementGroups/{name}"),
            name: name.into(),
            properties: ManagementGroupProperties {
                details: parent.map(|p| ManagementGroupDetails {
                    parent: Some(ParentRef {
                        id: Some(format!("/providers/Microsoft.Management/managementGroups/{p}")),
                    }),
                }),
                children: Some(children).filter(|c| !c.is_empty()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn both_directions_give_the_same_tree() {
        let sub = ManagementGroupChild {
            id: "/subscriptions/S1".into(),
            kind: "/subscriptions".into(),
            ..Default::default()
        };
        let groups = vec![mg("Root", None, vec![]), mg("Corp", Some("Root"), vec![sub])];
        let tree = ScopeTree::new(&groups, &HashMap::new());
        assert_eq!(
            tree.ancestors("/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Web/sites/app"),
            vec![
                "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites/app",
                "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites",
                "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web",
                "/subscriptions/s1/resourcegroups/rg/providers",
                "/subscriptions/s1/resourcegroups/rg",
                "/subscriptions/s1/resourcegroups",
                "/subscriptions/s1",
                "/providers/microsoft.management/managementgroups/corp",
                "/providers/microsoft.management/managementgroups/root",
                "/",
            ]
        );
        assert_eq!(tree.descendants("/providers/Microsoft.Management/managementGroups/Root").len(), 2);
    }

    #[test]
    fn parent_cycle_terminates() {
        let groups = vec![mg("A", Some("B"), vec![]), mg("B", Some("A"), vec![])];
        let tree = ScopeTree::new(&groups, &HashMap::new());
        assert_eq!(tree.ancestors("/providers/Microsoft.Management/managementGroups/A").last().unwrap(), "/");
    }
}

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

/// Records (by index) filed under their scope, so a listing at a scope looks only at the scopes involved
/// instead of every record: a tenant of 400k users has 800k role assignments at about 130k distinct scopes,
/// listed at each of 450 subscriptions and management groups.
///
/// [`listing`](ScopeIndex::listing) picks exactly the records a filter of every record's scope would pick
/// (at or above the listed scope, and below it unless `atScope()`), in the records' order.
#[derive(Debug, Default)]
pub(crate) struct ScopeIndex {
    /// Normalized record scope → its slot in `records`.
    slot_of: HashMap<String, usize>,
    /// Per distinct record scope, the indexes of the records at exactly that scope, ascending.
    records: Vec<Vec<usize>>,
    /// Normalized scope → the slots of the distinct record scopes at or below it.
    below: HashMap<String, Vec<usize>>,
}

impl ScopeIndex {
    /// Files records `0..` under their scopes (in the order given); each distinct scope's ancestors are
    /// computed once.
    pub fn new<'a>(tree: &ScopeTree, scopes: impl IntoIterator<Item = &'a str>) -> ScopeIndex {
        let mut index = ScopeIndex::default();
        for (i, scope) in scopes.into_iter().enumerate() {
            let key = normalize(scope);
            let slot = match index.slot_of.get(&key) {
                Some(&slot) => slot,
                None => index.add_scope(tree, key),
            };
            index.records[slot].push(i);
        }
        index
    }

    fn add_scope(&mut self, tree: &ScopeTree, key: String) -> usize {
        let slot = self.records.len();
        for ancestor in tree.ancestors(&key) {
            self.below.entry(ancestor).or_default().push(slot);
        }
        self.slot_of.insert(key, slot);
        self.records.push(Vec::new());
        slot
    }

    /// Indexes, ascending, of the records at `scope` or above it, and, unless `at_scope`, below it.
    pub fn listing(&self, tree: &ScopeTree, scope: &str, at_scope: bool) -> Vec<usize> {
        let mut slots: Vec<usize> = tree.ancestors(scope).iter().filter_map(|a| self.slot_of.get(a)).copied().collect();
        if !at_scope {
            slots.extend(self.below.get(&normalize(scope)).map(Vec::as_slice).unwrap_or_default());
        }
        slots.sort_unstable();
        slots.dedup();
        let mut out: Vec<usize> = slots.iter().flat_map(|&s| self.records[s].iter().copied()).collect();
        out.sort_unstable();
        out
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

    /// The filter the index replaces: every record's scope against the listed scope.
    fn filtered(tree: &ScopeTree, records: &[&str], scope: &str, at_scope: bool) -> Vec<usize> {
        let above = tree.ancestors(scope);
        let listing = normalize(scope);
        let applies = |record: &str| {
            above.contains(&normalize(record)) || (!at_scope && tree.ancestors(record).contains(&listing))
        };
        records.iter().enumerate().filter(|(_, r)| applies(r)).map(|(i, _)| i).collect()
    }

    #[test]
    fn the_scope_index_lists_what_the_filter_of_every_record_lists() {
        let s1 = ManagementGroupChild {
            id: "/subscriptions/S1".into(),
            kind: "/subscriptions".into(),
            ..Default::default()
        };
        let s2 = ManagementGroupChild {
            id: "/subscriptions/s2".into(),
            kind: "/subscriptions".into(),
            ..Default::default()
        };
        let groups = vec![mg("Root", None, vec![s2]), mg("Corp", Some("Root"), vec![s1])];
        let tree = ScopeTree::new(&groups, &HashMap::new());
        let records = [
            "/subscriptions/s1/resourceGroups/RG",
            "/",
            "/subscriptions/S1/",
            "/providers/Microsoft.Management/managementGroups/Corp",
            "/subscriptions/s2",
            "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.Web/sites/app",
            "/subscriptions/s1",
            "/providers/Microsoft.Management/managementGroups/Root",
            "/subscriptions/s1/resourceGroups/other",
        ];
        let index = ScopeIndex::new(&tree, records.iter().copied());
        let scopes = [
            "/",
            "/providers/Microsoft.Management/managementGroups/Root",
            "/providers/Microsoft.Management/managementGroups/corp",
            "/subscriptions/S1",
            "/subscriptions/s2",
            "/subscriptions/s1/resourceGroups/rg",
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app",
            "/subscriptions/unknown",
        ];
        for scope in scopes {
            for at_scope in [false, true] {
                let want = filtered(&tree, &records, scope, at_scope);
                assert_eq!(index.listing(&tree, scope, at_scope), want, "{scope} atScope {at_scope}");
            }
        }
        // At a resource group: it, the subscription, Corp, Root and `/` above, the site below; not the other
        // resource group, nor the other subscription.
        let rg = index.listing(&tree, "/subscriptions/s1/resourceGroups/rg", false);
        assert_eq!(rg, vec![0, 1, 2, 3, 5, 6, 7]);
        // atScope(): nothing below.
        assert_eq!(index.listing(&tree, "/subscriptions/s1/resourceGroups/rg", true), vec![0, 1, 2, 3, 6, 7]);
        assert_eq!(index.listing(&tree, "/subscriptions/s2", false), vec![1, 4, 7]);
    }

    #[test]
    fn parent_cycle_terminates() {
        let groups = vec![mg("A", Some("B"), vec![]), mg("B", Some("A"), vec![])];
        let tree = ScopeTree::new(&groups, &HashMap::new());
        assert_eq!(tree.ancestors("/providers/Microsoft.Management/managementGroups/A").last().unwrap(), "/");
    }
}

//! Shared by tests/baseline.rs and tests/history.rs: a copy of the demo tenant with one more role assignment.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The user given Owner on a subscription in the changed tenant.
pub const NEW_OWNER: &str = "8f7d9479-c959-4f8f-b76e-5968828c0760";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the bundled `demo` tenant in `dir/name`, with one more role assignment when `add_owner`:
/// Miriam Graham (a user with no role) becomes Owner of subscription 837c3c76-….
pub fn demo_copy(dir: &Path, name: &str, add_owner: bool) -> PathBuf {
    let tenant = dir.join(name);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("mocks/tenants/demo"), &tenant);
    if add_owner {
        let file = tenant.join("arm/roleAssignments.json");
        let mut list: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let scope = "/subscriptions/837c3c76-9e6c-4dba-b18e-10ab9cbc63d8";
        let id = "0f0e0d0c-0b0a-4909-8807-060504030201";
        list["value"].as_array_mut().unwrap().push(serde_json::json!({
            "properties": {
                "roleDefinitionId": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
                "principalId": NEW_OWNER,
                "principalType": "User",
                "scope": scope
            },
            "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{id}"),
            "type": "Microsoft.Authorization/roleAssignments",
            "name": id
        }));
        std::fs::write(&file, serde_json::to_string_pretty(&list).unwrap()).unwrap();
    }
    tenant
}

//! Shared by tests/baseline.rs and tests/history.rs: a copy of the demo tenant with one more role assignment.

use std::path::{Path, PathBuf};

use crate::common::{add_owner, demo_folder};

/// The user given Owner on a subscription in the changed tenant.
pub const NEW_OWNER: &str = "8f7d9479-c959-4f8f-b76e-5968828c0760";

/// A copy of the bundled `demo` tenant in `dir/name`, with one more role assignment when `add_owner`:
/// Miriam Graham (a user with no role) becomes Owner of subscription 837c3c76-….
pub fn demo_copy(dir: &Path, name: &str, with_owner: bool) -> PathBuf {
    let tenant = demo_folder(dir, name);
    if with_owner {
        add_owner(&tenant, NEW_OWNER, "0f0e0d0c-0b0a-4909-8807-060504030201");
    }
    tenant
}

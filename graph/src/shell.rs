//! Fix commands, written for POSIX `sh`: the one place that turns tenant data into command lines.
//!
//! Names and ids in a snapshot come from the tenant, and whoever can name a RoleBinding or a federated
//! credential can put `;`, `$(…)` or a newline in it. Remediation and posture commands are therefore never
//! assembled by string formatting: a [`Command`] is a program, azpath's own literal words (`&'static str`) and
//! data words, each quoted by [`quote`]; a [`Chain`] joins commands with the only `&&` in the line. The
//! result is meant for a POSIX shell (`sh`, `bash`, `zsh`, `dash`): plain words such as GUIDs, ARM ids and
//! DNS names stay bare so ordinary output reads as before; anything else is single-quoted (`'\''` for an
//! embedded quote), or double-quoted when it holds a single quote and nothing a double quote would expand.
//!
//! Rules per field: a value that cannot be a valid name for its field is refused rather than quoted (the
//! finding keeps its summary, says the value looks malformed or hostile, and has no command; see
//! [`remediation`]):
//!
//! | field | rule |
//! |---|---|
//! | Entra object ids (group, member, principal), subscription ids, role definition GUIDs | refused unless a GUID ([`guid`]) |
//! | role assignment ids | refused unless `/…/providers/Microsoft.Authorization/roleAssignments/<guid>` ([`role_assignment_id`]) |
//! | the scope in the PIM request URL | refused unless `/` or `/`-separated non-empty segments other than `.`/`..` ([`arm_scope`]), then percent-encoded |
//! | Kubernetes namespaces | refused unless a DNS-1123 label ([`namespace`]) |
//! | Kubernetes object names (Secret, CRD, Deployment) | refused unless a DNS-1123 subdomain ([`object_name`]) |
//! | RBAC object names (RoleBinding, ClusterRoleBinding) | refused if Kubernetes would reject them (`/`, `%`, `.`, `..`) or they start with `-` (they are positional arguments); quoted otherwise, since `system:…` names are valid ([`rbac_name`]) |
//! | everything else (resource group, identity, cluster, credential and context names, scopes, JSON bodies, key ids) | quoted |
//!
//! The PIM removal request needs a fresh GUID in its URL: the URL word is spliced with a fixed
//! `"$(uuidgen)"` ([`Word::substitution`] takes only a `&'static str`), so no data ever reaches an unquoted
//! or double-quoted context, and its JSON body is built by `serde_json` and passed as one quoted word.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::findings::Remediation;
use crate::rbac::is_guid;

/// Characters that never need quoting in a word (a leading `=` still does: zsh expands `=cmd`).
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.:/@=+,%".contains(c)
}

/// Quotes `s` as one POSIX `sh` word: bare when it is a non-empty run of plain characters (letters, digits,
/// `-_.:/@=+,%`, not starting with `=`), in double quotes when it holds a single quote but nothing a double
/// quote would expand (`"`, `$`, `` ` ``, `\`, `!`), in single quotes otherwise (`'` written `'\''`).
pub fn quote(s: &str) -> Cow<'_, str> {
    if !s.is_empty() && !s.starts_with('=') && s.chars().all(is_plain) {
        Cow::Borrowed(s)
    } else if s.contains('\'') && !s.contains(['"', '$', '`', '\\', '!']) {
        Cow::Owned(format!("\"{s}\""))
    } else {
        Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
    }
}

/// One shell word, already quoted: data, optionally with a fixed command substitution spliced in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word(String);

impl Word {
    /// A word holding `value` verbatim.
    pub fn data(value: &str) -> Word {
        Word(quote(value).into_owned())
    }

    /// Appends `value` verbatim to this word.
    pub fn then(mut self, value: &str) -> Word {
        self.0.push_str(&quote(value));
        self
    }

    /// Appends the output of `program` (`"$(program)"`); only azpath's own text can go there.
    pub fn substitution(mut self, program: &'static str) -> Word {
        self.0.push_str(&format!("\"$({program})\""));
        self
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A command line: a program and its words, each quoted for `sh`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    words: Vec<Word>,
}

impl Command {
    /// A command running `program` (`az`, `kubectl`).
    pub fn new(program: &'static str) -> Command {
        Command { words: vec![Word::data(program)] }
    }

    /// Appends azpath's own words (subcommands, flags).
    pub fn args(mut self, literals: impl IntoIterator<Item = &'static str>) -> Command {
        self.words.extend(literals.into_iter().map(Word::data));
        self
    }

    /// Appends one data word (a positional argument).
    pub fn arg(mut self, value: impl AsRef<str>) -> Command {
        self.words.push(Word::data(value.as_ref()));
        self
    }

    /// Appends `flag` and one data word as its value.
    pub fn opt(self, flag: &'static str, value: impl AsRef<str>) -> Command {
        self.args([flag]).arg(value)
    }

    /// Appends `flag` and a prepared word as its value.
    pub fn opt_word(mut self, flag: &'static str, value: Word) -> Command {
        self.words.push(Word::data(flag));
        self.words.push(value);
        self
    }

    /// This command, then `next` if it succeeds.
    pub fn and(self, next: Command) -> Chain {
        Chain(vec![self, next])
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

/// Commands joined by `&&`: each runs only if the previous one succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain(Vec<Command>);

impl Chain {
    /// This chain, then `next` if it succeeds.
    pub fn and(mut self, next: Command) -> Chain {
        self.0.push(next);
        self
    }

    /// A chain of `commands` in order; `None` when there is none.
    pub fn of(commands: impl IntoIterator<Item = Command>) -> Option<Chain> {
        let all: Vec<Command> = commands.into_iter().collect();
        (!all.is_empty()).then_some(Chain(all))
    }
}

impl From<Command> for Chain {
    fn from(c: Command) -> Chain {
        Chain(vec![c])
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" && ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A value that cannot be a valid name for its field: no command is printed for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {} is not {expected}", shown(.value))]
pub struct Malformed {
    /// What the value names (`namespace`, `role assignment id`, …).
    pub field: &'static str,
    /// The value as found.
    pub value: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

/// A value for a message: Rust-escaped (control characters visible) and cut at 80 characters.
fn shown(value: &str) -> String {
    let mut cut: String = value.chars().take(80).collect();
    if cut.len() < value.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

fn check<'a>(ok: bool, field: &'static str, value: &'a str, expected: &'static str) -> Result<&'a str, Malformed> {
    if ok {
        Ok(value)
    } else {
        Err(Malformed { field, value: value.to_string(), expected })
    }
}

/// `value` when it is a GUID.
pub fn guid<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Malformed> {
    check(is_guid(value), field, value, "a GUID")
}

/// Whether `s` is a DNS-1123 label body (lower-case letters, digits, inner `-`), at most `max` long.
fn is_dns_label(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= max
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// `value` when it is a Kubernetes namespace name (a DNS-1123 label).
pub fn namespace(value: &str) -> Result<&str, Malformed> {
    check(is_dns_label(value, 63), "namespace", value, "a Kubernetes namespace name (DNS-1123 label)")
}

/// `value` when it is a Kubernetes object name (a DNS-1123 subdomain: Secrets, CRDs, Deployments).
pub fn object_name<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Malformed> {
    let ok = value.len() <= 253 && value.split('.').all(|l| is_dns_label(l, 253));
    check(ok, field, value, "a Kubernetes object name (DNS-1123 subdomain)")
}

/// `value` when Kubernetes accepts it as an RBAC object name (a path segment: not `.` or `..`, no `/` or
/// `%`) and it does not start with `-` (it is passed as a positional argument).
pub fn rbac_name<'a>(field: &'static str, value: &'a str) -> Result<&'a str, Malformed> {
    let ok =
        !value.is_empty() && value != "." && value != ".." && !value.contains(['/', '%']) && !value.starts_with('-');
    check(ok, field, value, "a Kubernetes RBAC object name")
}

/// Whether `s` is `/`-separated non-empty segments other than `.` and `..`, starting with `/` (or empty).
fn is_segments(s: &str) -> bool {
    s.is_empty()
        || s.strip_prefix('/').is_some_and(|rest| rest.split('/').all(|x| !x.is_empty() && x != "." && x != ".."))
}

/// `value` when it is an ARM scope (`/` or `/`-separated segments, none empty, `.` or `..`).
pub fn arm_scope(value: &str) -> Result<&str, Malformed> {
    check(value == "/" || (!value.is_empty() && is_segments(value)), "scope", value, "an ARM scope id")
}

/// `value` when it has the shape `/…/providers/Microsoft.Authorization/roleAssignments/<guid>`.
pub fn role_assignment_id(value: &str) -> Result<&str, Malformed> {
    const SEGMENT: &str = "/providers/microsoft.authorization/roleassignments/";
    let lower = value.to_ascii_lowercase();
    let ok = lower.rfind(SEGMENT).is_some_and(|at| is_segments(&value[..at]) && is_guid(&value[at + SEGMENT.len()..]));
    check(
        ok,
        "role assignment id",
        value,
        "a role assignment id (/…/providers/Microsoft.Authorization/roleAssignments/<guid>)",
    )
}

/// The remediation for `summary` with `command`, or, when a value was refused, without a command and with a
/// summary that says why.
pub fn remediation<C: Into<Chain>>(summary: String, command: Result<C, Malformed>) -> Remediation {
    match command {
        Ok(c) => Remediation { summary, command: Some(c.into().to_string()) },
        Err(e) => Remediation {
            summary: format!("{summary} (no command given: {e}; the name looks malformed or hostile)"),
            command: None,
        },
    }
}

/// (subscription id, resource group, name) of an ARM resource id, in its own spelling ("" where absent).
pub fn arm_parts(id: &str) -> (&str, &str, &str) {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let after = |key: &str| {
        segs.iter().position(|s| s.eq_ignore_ascii_case(key)).and_then(|i| segs.get(i + 1)).copied().unwrap_or("")
    };
    (after("subscriptions"), after("resourceGroups"), segs.last().copied().unwrap_or(""))
}

/// `command --subscription S --resource-group RG --name N` for an ARM resource id, in its own spelling.
pub fn az_target(command: Command, id: &str) -> Command {
    let (sub, rg, name) = arm_parts(id);
    command.opt("--subscription", sub).opt("--resource-group", rg).opt("--name", name)
}

/// `kubectl --context <cluster>` for a cluster id (AKS names a cluster's kubeconfig context after the cluster;
/// a cluster known only from its dump, `k8s:<name>`, by that name), so a command never lands on whatever
/// context is current.
pub fn kubectl(cluster: &str) -> Command {
    let name = cluster.trim_end_matches('/').rsplit('/').next().unwrap_or(cluster);
    Command::new("kubectl").opt("--context", name.strip_prefix("k8s:").unwrap_or(name))
}

/// `az role assignment delete --ids <id>`.
pub fn role_assignment_delete(id: &str) -> Result<Command, Malformed> {
    Ok(Command::new("az").args(["role", "assignment", "delete"]).opt("--ids", role_assignment_id(id)?))
}

/// `az ad group member remove --group <group> --member-id <member>`.
pub fn group_member_remove(group: &str, member: &str) -> Result<Command, Malformed> {
    Ok(Command::new("az")
        .args(["ad", "group", "member", "remove"])
        .opt("--group", guid("group id", group)?)
        .opt("--member-id", guid("member id", member)?))
}

/// The Microsoft Graph endpoint `az rest` calls for owner removals that `az ad` has no command for.
const GRAPH: &str = "https://graph.microsoft.com/v1.0";

/// Removes `owner` from the owners of an application (`az ad app owner remove`), a group
/// (`az ad group owner remove`) or a service principal (`az rest --method delete …/owners/{id}/$ref`: `az ad sp`
/// has no owner removal).
pub fn owner_remove(collection: OwnedObject, object: &str, owner: &str) -> Result<Command, Malformed> {
    let object = guid("object id", object)?;
    let owner = guid("owner id", owner)?;
    Ok(match collection {
        OwnedObject::Application => Command::new("az")
            .args(["ad", "app", "owner", "remove"])
            .opt("--id", object)
            .opt("--owner-object-id", owner),
        OwnedObject::Group => Command::new("az")
            .args(["ad", "group", "owner", "remove"])
            .opt("--group", object)
            .opt("--owner-object-id", owner),
        OwnedObject::ServicePrincipal => Command::new("az")
            .args(["rest", "--method", "delete"])
            .opt("--url", format!("{GRAPH}/servicePrincipals/{object}/owners/{owner}/$ref")),
    })
}

/// What an owner owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnedObject {
    /// An application registration.
    Application,
    /// A service principal.
    ServicePrincipal,
    /// A group.
    Group,
}

/// What the PIM request URL leaves as is in a scope: ARM ids' own characters; the rest is percent-encoded.
const URL_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// The ARM endpoint the PIM removal request goes to (public cloud, as `az rest` expects).
const ARM: &str = "https://management.azure.com";

/// Removes a PIM eligibility: `az rest --method put` of a `roleEligibilityScheduleRequests` AdminRemove at
/// `scope`, its name a fresh GUID from `uuidgen`, its body built by serde_json.
pub fn pim_eligibility_remove(scope: &str, principal: &str, role_definition_id: &str) -> Result<Command, Malformed> {
    let scope = arm_scope(scope)?;
    let principal = guid("principal id", principal)?;
    let path = if scope == "/" { String::new() } else { utf8_percent_encode(scope, URL_PATH).to_string() };
    let url = Word::data(&format!("{ARM}{path}/providers/Microsoft.Authorization/roleEligibilityScheduleRequests/"))
        .substitution("uuidgen")
        .then("?api-version=2020-10-01");
    let body = serde_json::json!({"properties": {
        "principalId": principal,
        "roleDefinitionId": role_definition_id,
        "requestType": "AdminRemove",
    }});
    Ok(Command::new("az").args(["rest", "--method", "put"]).opt_word("--url", url).opt("--body", body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_aim_at_a_cluster_by_its_id_or_dump_name() {
        let id = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/RG-Aks/providers/Microsoft.ContainerService/managedClusters/Prod";
        assert_eq!(arm_parts(id), ("11111111-0000-0000-0000-000000000001", "RG-Aks", "Prod"));
        assert_eq!(
            az_target(Command::new("az").args(["aks", "update"]), id).to_string(),
            "az aks update --subscription 11111111-0000-0000-0000-000000000001 --resource-group RG-Aks --name Prod"
        );
        // A subscription has no resource group: that part is empty, not a neighbour segment.
        assert_eq!(arm_parts("/subscriptions/s1"), ("s1", "", "s1"));
        assert_eq!(kubectl(id).to_string(), "kubectl --context Prod");
        // A cluster known only from its dump is named as the dump named it.
        assert_eq!(kubectl("k8s:edge-1").to_string(), "kubectl --context edge-1");
    }

    #[test]
    fn plain_words_stay_bare_and_others_are_quoted() {
        for plain in ["az", "--ids", "team-a", "/subscriptions/x/resourceGroups/rg", "a=b", "system:masters", "100%"] {
            assert_eq!(quote(plain), plain);
        }
        assert_eq!(quote(""), "''");
        assert_eq!(quote("=cmd"), "'=cmd'");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("x;touch${IFS}PWNED;"), "'x;touch${IFS}PWNED;'");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("it's;rm"), "\"it's;rm\"");
        assert_eq!(quote("it's $(x)"), r"'it'\''s $(x)'");
        assert_eq!(quote("[?principalType=='User']"), "\"[?principalType=='User']\"");
        assert_eq!(quote("a\nb"), "'a\nb'");
        assert_eq!(quote("*"), "'*'");
        assert_eq!(quote("~root"), "'~root'");
        assert_eq!(quote("é"), "'é'");
    }

    #[test]
    fn commands_and_chains_join_quoted_words() {
        let c = Command::new("kubectl").opt("-n", "team-a").args(["edit", "rolebinding"]).arg("a;b");
        assert_eq!(c.to_string(), "kubectl -n team-a edit rolebinding 'a;b'");
        let chain = c.clone().and(Command::new("az").arg("x y")).and(Command::new("az"));
        assert_eq!(chain.to_string(), "kubectl -n team-a edit rolebinding 'a;b' && az 'x y' && az");
        assert_eq!(Chain::of(Vec::new()), None);
        assert_eq!(Chain::of([c.clone()]).unwrap().to_string(), c.to_string());
    }

    #[test]
    fn a_substitution_is_spliced_between_quoted_data() {
        let w = Word::data("https://x/a b/").substitution("uuidgen").then("?v=1");
        assert_eq!(w.to_string(), "'https://x/a b/'\"$(uuidgen)\"'?v=1'");
    }

    #[test]
    fn kubernetes_names_follow_their_own_rules() {
        assert!(namespace("team-a").is_ok());
        for bad in ["", "Team", "-a", "a-", "a.b", "a;b", &"a".repeat(64)] {
            assert!(namespace(bad).is_err(), "{bad:?}");
        }
        assert!(object_name("secret", "aso-credential").is_ok());
        assert!(object_name("crd", "roleassignments.authorization.azure.com").is_ok());
        for bad in ["", ".a", "a..b", "--all", "a b", "A"] {
            assert!(object_name("secret", bad).is_err(), "{bad:?}");
        }
        for good in ["system:controller:job", "dana ops;x", "Platform"] {
            assert!(rbac_name("binding", good).is_ok(), "{good:?}");
        }
        for bad in ["", ".", "..", "a/b", "a%2f", "--all"] {
            assert!(rbac_name("binding", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn role_assignment_ids_need_their_shape() {
        let g = "00000000-0000-4000-8000-000000000001";
        for good in [
            format!("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/{g}"),
            format!("/providers/microsoft.authorization/roleassignments/{g}"),
            format!("/subscriptions/s/resourceGroups/rg (x)/providers/Microsoft.Authorization/roleAssignments/{g}"),
        ] {
            assert!(role_assignment_id(&good).is_ok(), "{good}");
        }
        for bad in [
            format!("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/{g};x"),
            format!("x/providers/Microsoft.Authorization/roleAssignments/{g}"),
            format!("/subscriptions//providers/Microsoft.Authorization/roleAssignments/{g}"),
            format!("/subscriptions/../providers/Microsoft.Authorization/roleAssignments/{g}"),
            "/subscriptions/s".to_string(),
        ] {
            assert!(role_assignment_id(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_say_why_and_print_no_command() {
        let r = remediation("Remove it".into(), role_assignment_delete("x;rm -rf ~\u{1b}[2J"));
        assert_eq!(r.command, None);
        assert!(r.summary.starts_with("Remove it (no command given: role assignment id \"x;rm -rf ~\\u{1b}[2J\""));
        let r = remediation("Remove it".into(), group_member_remove(&"0".repeat(200), "x"));
        assert!(r.summary.contains('…') && r.summary.len() < 300, "{}", r.summary);
    }

    #[test]
    fn the_pim_request_keeps_url_and_body_one_word_each() {
        let c = pim_eligibility_remove(
            "/subscriptions/s/resourceGroups/a b?x#y",
            "00000000-0000-4000-8000-000000000001",
            "/r'\"$(id)",
        )
        .unwrap()
        .to_string();
        assert!(c.starts_with("az rest --method put --url https://management.azure.com/subscriptions/s/resourceGroups/a%20b%3Fx%23y/providers/Microsoft.Authorization/roleEligibilityScheduleRequests/\"$(uuidgen)\"'?api-version=2020-10-01' --body '"), "{c}");
        assert!(c.contains(r#"\"$(id)"#), "{c}");
        assert!(pim_eligibility_remove("evil.example/x", "00000000-0000-4000-8000-000000000001", "r").is_err());
        let root = pim_eligibility_remove("/", "00000000-0000-4000-8000-000000000001", "r").unwrap().to_string();
        assert!(root.contains("--url https://management.azure.com/providers/"), "{root}");
    }
}

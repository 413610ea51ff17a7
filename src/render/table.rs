//! The table format, for a person at a terminal. The first screen answers "what do I cut?": exposure per tier,
//! the top choke points with the command for each, and the verified plan; then the escalation paths (each core
//! once), the standing-privilege review, posture findings and coverage. Prose is wrapped at word boundaries to
//! the terminal's width; ids and commands are never broken: a command is printed whole on its own line, where
//! it can be copied.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::{presets, ContentArrangement, Table};

use azpath_graph::findings::{ChokePoint, Finding, Hop, PostureFinding, Reach, Remediation, Report};
use azpath_graph::model::{EdgeKind, NodeKind, Severity};

use super::text::{shorten, visible, write_line};
use super::RenderOptions;

/// How many choke points the first screen shows.
const TOP_CHOKE_POINTS: usize = 5;
/// Escalation paths explained hop by hop; the others are grouped by principal and first step.
const DETAILED: usize = 2;
/// Groups of further escalation paths listed; the rest are counted.
const GROUPS: usize = 4;

/// Writes the report as text and tables.
pub fn render_table(report: &Report, options: RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let w = Writer { width: usize::from(options.width), out };
    w.render(report)
}

struct Writer<'a> {
    width: usize,
    out: &'a mut dyn Write,
}

impl Writer<'_> {
    fn render(mut self, report: &Report) -> io::Result<()> {
        self.prose("", "  ", &summary(report))?;
        self.exposure(report)?;
        self.choke_points(report)?;
        let (escalations, standing): (Vec<&Finding>, Vec<&Finding>) =
            report.findings.iter().partition(|f| f.reach == Reach::Escalation);
        self.first_escalations(&escalations)?;
        let mut below = vec![
            count(escalations.len(), "escalation path", "escalation paths"),
            count(standing.len(), "standing grant to review", "standing grants to review"),
            count(report.posture.len(), "posture finding", "posture findings"),
        ];
        if !report.coverage.is_empty() {
            below.push(count(report.coverage.len(), "coverage gap", "coverage gaps"));
        }
        if !report.plan.steps.is_empty() {
            below.insert(0, "its steps".to_string());
        }
        self.plan_verdict(report, &format!("Below: {}.", below.join(", ")))?;
        self.plan(report)?;
        self.escalations(report, &escalations)?;
        self.standing(report, &standing)?;
        self.posture(report)?;
        self.coverage(report)?;
        self.warnings(report)?;
        Ok(())
    }

    fn line(&mut self, text: &str) -> io::Result<()> {
        write_line(self.out, text)
    }

    /// Prose wrapped to the width at word boundaries, each line after the first indented by `indent`.
    fn prose(&mut self, first: &str, indent: &str, text: &str) -> io::Result<()> {
        let width = self.width.max(40);
        let opts = textwrap::Options::new(width)
            .initial_indent(first)
            .subsequent_indent(indent)
            .break_words(false)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        for l in textwrap::wrap(&visible(&shorten(text)), opts) {
            self.line(&l)?;
        }
        Ok(())
    }

    /// A command on its own line, whole.
    fn command(&mut self, indent: &str, r: &Remediation) -> io::Result<()> {
        match &r.command {
            Some(c) => self.line(&format!("{indent}$ {c}")),
            None => Ok(()),
        }
    }

    fn heading(&mut self, text: &str) -> io::Result<()> {
        self.line("")?;
        self.prose("", "  ", text)
    }

    fn exposure(&mut self, report: &Report) -> io::Result<()> {
        if report.tiers.is_empty() {
            return Ok(());
        }
        let shown: Vec<_> = report.tiers.iter().filter(|t| t.exposure.principals > 0).collect();
        let planned = !report.plan.steps.is_empty();
        self.heading(if planned {
            "Exposure: principals reaching each tier/all (by escalation) → after the plan"
        } else {
            "Exposure: principals reaching each tier/all (by escalation)"
        })?;
        // Aligned columns while they fit the width; a row that does not fit wraps as prose.
        let id_width = shown.iter().map(|t| t.query_id.len()).max().unwrap_or(0);
        for t in &shown {
            let (e, after) = (&t.exposure, &t.after_plan);
            let reach = format!("{}/{}", e.principals, e.population);
            let plan = if planned { format!(" → {}", after.principals) } else { String::new() };
            let escalation = format!("({})", e.escalation);
            let row = format!(
                "  {:<8} {:<id_width$} {reach:>9} {escalation:<5}{plan}",
                t.severity.as_str().to_uppercase(),
                t.query_id,
            );
            if row.chars().count() <= self.width.max(40) {
                self.line(&row)?;
            } else {
                self.prose("  ", "    ", row.trim_start())?;
            }
        }
        let none = report.tiers.len() - shown.len();
        if none > 0 {
            self.line(&format!("  ({} reached by no principal)", count(none, "more tier", "more tiers")))?;
        }
        Ok(())
    }

    fn choke_points(&mut self, report: &Report) -> io::Result<()> {
        let top: Vec<&ChokePoint> =
            report.choke_points.iter().filter(|c| c.principals_cut > 0).take(TOP_CHOKE_POINTS).collect();
        if top.is_empty() {
            return Ok(());
        }
        self.heading(&format!(
            "Top choke points: each cuts principals off every path into a tier ({} in JSON)",
            report.choke_points.len()
        ))?;
        for (i, c) in top.iter().enumerate() {
            let tiers = c.tiers.iter().filter(|t| t.principals_cut > 0).count();
            let collateral = match c.collateral {
                0 => String::new(),
                1 => " (1 standing holder loses it)".to_string(),
                n => format!(" ({n} standing holders lose it)"),
            };
            self.prose(
                &format!("{:>3}. ", i + 1),
                "     ",
                &format!(
                    "[{}] {}: cuts {} principal{} off {} tier{}{collateral}",
                    c.reach.as_str(),
                    c.what,
                    c.principals_cut,
                    plural(c.principals_cut),
                    tiers,
                    plural(tiers)
                ),
            )?;
            self.command("     ", &c.remediation)?;
            if c.remediation.command.is_none() {
                self.prose("     ", "     ", &c.remediation.summary)?;
            }
        }
        Ok(())
    }

    /// The first screen's escalation paths: the first (most severe) from a Kubernetes subject and from an Entra
    /// principal, or from a workload outside the tenant when one of those has none; one entry each, the whole
    /// list after the plan.
    fn first_escalations(&mut self, escalations: &[&Finding]) -> io::Result<()> {
        let shown: Vec<&Finding> = [Realm::Kubernetes, Realm::Entra, Realm::External]
            .into_iter()
            .filter_map(|realm| escalations.iter().copied().find(|f| Realm::of(f.principal.kind) == Some(realm)))
            .take(2)
            .collect();
        if shown.is_empty() {
            return Ok(());
        }
        self.heading(&format!(
            "Escalation paths, the first by kind of principal (all {} follow the plan):",
            escalations.len()
        ))?;
        for f in shown {
            let tier = f.tiers.first().map(|t| format!(": {}", t.query_id)).unwrap_or_default();
            self.prose(
                &format!("  [{}] ", f.severity.as_str().to_uppercase()),
                "      ",
                &format!("{} → {}{tier}", Realm::who(&f.principal), f.scope.display_name),
            )?;
        }
        Ok(())
    }

    /// The plan in one line on the first screen (how many changes, what the re-run found), then what follows.
    fn plan_verdict(&mut self, report: &Report, below: &str) -> io::Result<()> {
        let plan = &report.plan;
        if plan.steps.is_empty() {
            if report.findings.iter().any(|f| f.reach == Reach::Escalation) {
                self.heading("Plan: no change found that cuts the escalation paths (see each path's fix)")?;
                return self.prose("", "  ", below);
            }
            return self.heading(below);
        }
        let verdict = if plan.verified {
            "verified: re-analyzed without them, no escalation path is left".to_string()
        } else {
            format!("re-analyzed without them, {} escalation path(s) remain", plan.remaining.len())
        };
        self.heading(&format!(
            "Plan: {} change{} {} every escalation path ({verdict}). {below}",
            plan.steps.len(),
            plural(plan.steps.len()),
            if plan.steps.len() == 1 { "removes" } else { "remove" }
        ))
    }

    /// The plan's steps, each with its command.
    fn plan(&mut self, report: &Report) -> io::Result<()> {
        if report.plan.steps.is_empty() {
            return Ok(());
        }
        self.heading(&format!(
            "Plan ({} step{}), in order:",
            report.plan.steps.len(),
            plural(report.plan.steps.len())
        ))?;
        for (i, id) in report.plan.steps.iter().enumerate() {
            let Some(c) = report.choke_points.iter().find(|c| &c.id == id) else {
                self.line(&format!("{:>3}. {id}", i + 1))?;
                continue;
            };
            // The choke point's short name when there is a command; its whole summary when there is none.
            let text = if c.remediation.command.is_some() {
                format!("cut: {}", c.what)
            } else {
                c.remediation.summary.clone()
            };
            self.prose(&format!("{:>3}. ", i + 1), "     ", &text)?;
            self.command("     ", &c.remediation)?;
        }
        Ok(())
    }

    fn escalations(&mut self, report: &Report, findings: &[&Finding]) -> io::Result<()> {
        if findings.is_empty() {
            return Ok(());
        }
        self.heading(&format!(
            "Escalation paths ({}): principals that gain power they do not hold, most severe first",
            findings.len()
        ))?;
        for f in findings.iter().take(DETAILED) {
            self.finding(report, f)?;
        }
        // The rest, grouped by principal and first step: one entry per way in, with where it leads.
        let mut groups: Vec<(&Finding, Vec<&Finding>)> = Vec::new();
        for f in findings.iter().skip(DETAILED) {
            let first = |x: &Finding| x.hops.first().map(|h| (h.edge, h.to.id.clone()));
            match groups.iter_mut().find(|(g, _)| g.principal.id == f.principal.id && first(g) == first(f)) {
                Some((_, more)) => more.push(f),
                None => groups.push((f, vec![f])),
            }
        }
        for (i, (f, all)) in groups.iter().enumerate() {
            if i == GROUPS {
                let rest: usize = groups[GROUPS..].iter().map(|(_, a)| a.len()).sum();
                self.line("")?;
                self.prose("", "  ", &format!("… and {rest} more: --format json lists every path with its evidence."))?;
                break;
            }
            self.finding_group(report, f, all)?;
        }
        Ok(())
    }

    /// Escalation paths sharing a principal and a first step: where they lead, the first step, the plan step
    /// that cuts them.
    fn finding_group(&mut self, report: &Report, f: &Finding, all: &[&Finding]) -> io::Result<()> {
        self.line("")?;
        let mut flags = Vec::new();
        if all.iter().any(|x| x.eligible) {
            flags.push("PIM activation".to_string());
        }
        if f.members.count > 0 {
            flags.push(format!("{} member{}", f.members.count, plural(f.members.count)));
        }
        let flags = if flags.is_empty() { String::new() } else { format!(", {}", flags.join(", ")) };
        let mut to: Vec<&str> = Vec::new();
        for x in all {
            if !to.contains(&x.scope.display_name.as_str()) {
                to.push(&x.scope.display_name);
            }
        }
        self.prose(
            &format!("[{}] ", f.severity.as_str().to_uppercase()),
            "    ",
            &format!(
                "{} ({}{flags}) → {}{}",
                f.principal.display_name,
                f.principal.kind,
                to.join(", "),
                if all.len() > 1 { format!(" ({} paths)", all.len()) } else { String::new() }
            ),
        )?;
        let step = f.hops.first().map(|h| format!("{} {}", h.label, h.to.display_name)).unwrap_or_default();
        let mut cuts: Vec<usize> =
            all.iter().filter_map(|x| report.plan.steps.iter().position(|s| *s == x.fix)).map(|i| i + 1).collect();
        cuts.sort();
        cuts.dedup();
        let cut = match cuts.as_slice() {
            [] => String::new(),
            [one] => format!("; cut by plan step {one}"),
            many => {
                format!("; cut by plan steps {}", many.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))
            }
        };
        self.prose("    first: ", "      ", &format!("{step}{cut}"))
    }

    /// A finding's first line: severity, principal, where it lands, flags, members.
    fn finding_head(&mut self, f: &Finding) -> io::Result<()> {
        let mut flags = Vec::new();
        if f.eligible {
            flags.push("needs PIM activation".to_string());
        }
        if f.conditional {
            flags.push("conditional".to_string());
        }
        if f.members.count > 0 {
            flags.push(format!("{} member{}", f.members.count, plural(f.members.count)));
        }
        let flags = if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) };
        self.prose(
            &format!("[{}] ", f.severity.as_str().to_uppercase()),
            "    ",
            &format!("{} ({}) → {}{flags}", f.principal.display_name, f.principal.kind, f.scope.display_name),
        )
    }

    fn finding(&mut self, report: &Report, f: &Finding) -> io::Result<()> {
        self.line("")?;
        self.finding_head(f)?;
        let tiers: Vec<String> = f
            .tiers
            .iter()
            .map(|t| {
                let title = report.queries.iter().find(|q| q.id == t.query_id).map(|q| q.title.as_str()).unwrap_or("");
                format!("{title} ({})", t.targets.count)
            })
            .collect();
        self.prose("    reaches: ", "      ", &tiers.join("; "))?;
        if f.members.count > 0 {
            let names: Vec<&str> = f.members.sample.iter().take(3).map(|n| n.display_name.as_str()).collect();
            let more = f.members.count.saturating_sub(names.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            self.prose("    members: ", "      ", &format!("{}{more}", names.join(", ")))?;
        }
        for (i, h) in f.hops.iter().enumerate() {
            self.prose(&format!("    {}. ", i + 1), "       ", &hop_line(h))?;
        }
        self.prose("    fix: ", "      ", &f.remediation.summary)?;
        self.command("      ", &f.remediation)?;
        Ok(())
    }

    fn standing(&mut self, report: &Report, findings: &[&Finding]) -> io::Result<()> {
        if findings.is_empty() {
            return Ok(());
        }
        self.heading(&format!(
            "Standing privilege review ({} grant{}): who holds the power; keep only what is needed",
            findings.len(),
            plural(findings.len())
        ))?;
        // One row per grant: a role assignment that also makes its holder a cluster's admin is one grant.
        let mut rows: Vec<(&Finding, Vec<&str>, usize)> = Vec::new();
        for f in findings {
            let tiers = f.tiers.iter().map(|t| t.query_id.as_str());
            match rows.iter_mut().find(|(g, _, _)| g.fix == f.fix && g.principal.id == f.principal.id) {
                Some((_, t, _)) => t.extend(tiers),
                None => rows.push((f, tiers.collect(), f.members.count)),
            }
        }
        for (f, mut tiers, members) in rows {
            tiers.sort();
            tiers.dedup();
            let grant = f.hops.first().map(|h| h.label.clone()).unwrap_or_default();
            let members = if members > 0 { format!(", {members} members") } else { String::new() };
            let fix = report
                .choke_points
                .iter()
                .position(|c| c.id == f.fix)
                .map(|i| format!(" [choke point {}]", i + 1))
                .unwrap_or_default();
            self.prose(
                "  - ",
                "      ",
                &format!(
                    "{} ({}{members}): {grant} at {} → {} tier{}{fix}",
                    f.principal.display_name,
                    f.principal.kind,
                    f.scope.display_name,
                    tiers.len(),
                    plural(tiers.len())
                ),
            )?;
        }
        self.prose("  ", "  ", "Commands: choke_points[].remediation.command in --format json.")
    }

    fn posture(&mut self, report: &Report) -> io::Result<()> {
        if report.posture.is_empty() {
            if !report.posture_checks.is_empty() {
                self.heading(&format!("Posture: {} checks, nothing to report.", report.posture_checks.len()))?;
            }
            return Ok(());
        }
        self.heading(&format!(
            "Posture ({} finding{}): settings that weaken identity and access control",
            report.posture.len(),
            plural(report.posture.len())
        ))?;
        for f in &report.posture {
            self.posture_finding(f)?;
        }
        Ok(())
    }

    fn posture_finding(&mut self, f: &PostureFinding) -> io::Result<()> {
        self.line("")?;
        self.prose(
            &format!("[{}] {} ", f.severity.as_str().to_uppercase(), f.check_id),
            "    ",
            &format!("{}: {} {}", f.title, f.resource.kind, f.resource.display_name),
        )?;
        self.prose("    ", "    ", &f.detail)?;
        // The first piece of evidence (the most specific: an assignment id, a setting), the rest counted.
        if let Some(first) = f.evidence.first() {
            let more = match f.evidence.len() - 1 {
                0 => String::new(),
                n => format!(" (+{n} more in --format json)"),
            };
            self.prose("    evidence: ", "      ", &format!("{first}{more}"))?;
        }
        self.prose("    fix: ", "      ", &f.remediation.summary)?;
        self.command("      ", &f.remediation)
    }

    fn coverage(&mut self, report: &Report) -> io::Result<()> {
        if report.coverage.is_empty() {
            return Ok(());
        }
        self.heading(&format!(
            "Coverage gaps ({}): these parts of the tenant were not collected",
            report.coverage.len()
        ))?;
        let mut t = new_table(options_width(self.width));
        t.set_header(vec!["API", "Scope", "Reason", "May hide"]);
        for c in &report.coverage {
            let reason = match c.gap.status {
                Some(s) => format!("{:?} (HTTP {s})", c.gap.reason),
                None => format!("{:?}", c.gap.reason),
            };
            t.add_row(vec![cell([&c.gap.api]), cell([&c.gap.scope]), cell([&reason]), cell([&c.may_hide])]);
        }
        writeln!(self.out, "{t}")
    }

    fn warnings(&mut self, report: &Report) -> io::Result<()> {
        if report.warnings.is_empty() {
            return Ok(());
        }
        self.heading(&format!("Warnings ({}):", report.warnings.len()))?;
        for w in &report.warnings {
            self.prose("  - ", "    ", w)?;
        }
        Ok(())
    }
}

fn options_width(width: usize) -> u16 {
    u16::try_from(width).unwrap_or(u16::MAX)
}

/// Who a path starts from, for the first screen's choice of escalation paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Realm {
    Kubernetes,
    Entra,
    External,
}

impl Realm {
    /// The realm of a principal kind; `None` for the internal nodes a path can start from (a cluster's admin,
    /// a hub), which stand for everyone who reaches them.
    fn of(kind: NodeKind) -> Option<Realm> {
        match kind {
            NodeKind::KubeServiceAccount | NodeKind::KubeUser | NodeKind::KubeGroup => Some(Realm::Kubernetes),
            NodeKind::User
            | NodeKind::Group
            | NodeKind::ServicePrincipal
            | NodeKind::ManagedIdentity
            | NodeKind::Application
            | NodeKind::UnknownPrincipal => Some(Realm::Entra),
            NodeKind::ExternalWorkload => Some(Realm::External),
            _ => None,
        }
    }

    /// A principal as the first screen names it: an Entra principal with its kind (a Kubernetes subject's or
    /// an external workload's display name already says what it is).
    fn who(principal: &azpath_graph::findings::NodeRef) -> String {
        let noun = match principal.kind {
            NodeKind::User => "user",
            NodeKind::Group => "group",
            NodeKind::ServicePrincipal => "service principal",
            NodeKind::ManagedIdentity => "managed identity",
            NodeKind::Application => "application",
            NodeKind::UnknownPrincipal => "principal of unknown kind",
            _ => return principal.display_name.clone(),
        };
        format!("{} ({noun})", principal.display_name)
    }
}

/// `n` with the singular or plural noun.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// One hop as a sentence; role hops also name their assignment (the full id is in the fix command and the
/// JSON report).
fn hop_line(h: &Hop) -> String {
    let mut line = h.detail.clone();
    if h.edge == EdgeKind::HasRole {
        if let Some(id) = h.evidence.first() {
            let kind = if h.eligible { "eligibility" } else { "assignment" };
            line.push_str(&format!(" ({kind} {})", id.rsplit('/').next().unwrap_or(id)));
        }
    }
    line
}

/// One table cell from its lines: each [shortened](shorten) and [escaped](visible).
fn cell<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> String {
    let lines: Vec<String> = lines.into_iter().map(|l| visible(&shorten(l.as_ref())).into_owned()).collect();
    lines.join("\n")
}

fn new_table(width: u16) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(width);
    t
}

/// "azpath: 3 escalation paths (2 critical, 1 high), 12 standing grants; 2 posture findings: 2 high".
pub fn summary(report: &Report) -> String {
    let counts = |sevs: &[Severity]| -> String {
        let mut by: BTreeMap<Severity, usize> = BTreeMap::new();
        for s in sevs {
            *by.entry(*s).or_default() += 1;
        }
        by.iter().rev().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
    };
    let esc: Vec<Severity> =
        report.findings.iter().filter(|f| f.reach == Reach::Escalation).map(|f| f.severity).collect();
    let standing = report.findings.len() - esc.len();
    let posture: Vec<Severity> = report.posture.iter().map(|f| f.severity).collect();
    let esc = match esc.len() {
        0 => "no escalation path".to_string(),
        n => format!("{n} escalation path{} ({})", plural(n), counts(&esc)),
    };
    let posture = match posture.len() {
        0 => String::new(),
        n => format!("; {n} posture finding{}: {}", plural(n), counts(&posture)),
    };
    let gaps = if report.coverage.is_empty() {
        String::new()
    } else {
        format!("; {} coverage gap(s): findings may be incomplete", report.coverage.len())
    };
    format!("azpath: {esc}, {standing} standing grant{}{posture}{gaps}", plural(standing))
}

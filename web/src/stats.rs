//! The numbers of the run: round, informed, messages; and [`stat`], the one figure every
//! stats panel (round view, lab, live) is made of.

use grapevine_core::{Counts, RoundStats};
use yew::prelude::*;

/// Properties of [`Stats`].
#[derive(Properties, PartialEq)]
pub struct StatsProps {
    /// The last round's record (its traffic).
    pub last: RoundStats,
    /// Node counts now (crashes and revivals since the last round included).
    pub counts: Counts,
    /// All nodes.
    pub nodes: u32,
    /// The run's seed.
    pub seed: u64,
    /// The run is over.
    pub finished: bool,
}

/// One figure of a stats panel: its label, its value (under `data-testid` when automation
/// reads it) and, when given, a line under it saying what the value means.
pub fn stat(
    label: &str,
    value: impl Into<Html>,
    testid: Option<&'static str>,
    sub: Option<Html>,
) -> Html {
    figure(None, label, value.into(), testid, sub)
}

/// [`stat`] with a tooltip over the whole figure (`title`), for a value the sub line cannot
/// explain alone.
pub fn stat_titled(
    title: &'static str,
    label: &str,
    value: impl Into<Html>,
    testid: Option<&'static str>,
    sub: Option<Html>,
) -> Html {
    figure(Some(title), label, value.into(), testid, sub)
}

fn figure(
    title: Option<&'static str>,
    label: &str,
    value: Html,
    testid: Option<&'static str>,
    sub: Option<Html>,
) -> Html {
    html! {
        <div class="stat" {title}>
            <span class="label">{ label }</span>
            <span class="value" data-testid={testid}>{ value }</span>
            if let Some(sub) = sub { <span class="sub">{ sub }</span> }
        </div>
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * part as f64 / whole as f64)
    }
}

/// Round, informed, messages, redundancy, loss and the seed.
#[function_component(Stats)]
pub fn stats(p: &StatsProps) -> Html {
    let c = p.counts;
    let t = p.last.total;
    let live = c.live();
    let state = if p.finished {
        if c.susceptible == 0 {
            "everyone live knows"
        } else {
            "the rumor died out"
        }
    } else if p.last.round == 0 {
        "ready"
    } else {
        "spreading"
    };
    html! {
        <section class="panel stats" aria-label="Statistics">
            { stat("Round", p.last.round, Some("round"), Some(state.into())) }
            { stat("Informed", c.informed(), Some("informed"),
                Some(format!("{} of {} live", percent(c.informed().into(), live.into()), live).into())) }
            { stat("Messages", t.sent, Some("messages"),
                Some(format!("{:.2} per node · {} this round", t.sent as f64 / f64::from(p.nodes), p.last.traffic.sent).into())) }
            { stat("Redundant", percent(t.redundant, t.sent), None,
                Some(format!("{} told what they knew", t.redundant).into())) }
            { stat("Lost", t.lost, Some("lost"),
                Some(format!("on the way · {} more sent to crashed nodes", t.dead_letters).into())) }
            { stat("Spreading", c.spreading, Some("spreading"),
                Some(format!("{} stopped · {} unaware · {} crashed", c.stopped, c.susceptible, c.crashed).into())) }
            { stat("Seed", p.seed, Some("seed-shown"), Some("same seed, same run".into())) }
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yew::virtual_dom::VNode;

    /// The DOM `node` makes: tags with their attributes (sorted), text nodes quoted,
    /// fragments flattened (they make no element).
    fn markup(node: &Html) -> String {
        match node {
            VNode::VTag(tag) => {
                let mut attributes: Vec<String> = tag
                    .attributes
                    .iter()
                    .map(|(k, v)| format!(" {k}={v:?}"))
                    .collect();
                attributes.sort();
                let children = tag.children().map_or(String::new(), markup);
                format!(
                    "<{}{}>{children}</{}>",
                    tag.tag(),
                    attributes.concat(),
                    tag.tag()
                )
            }
            VNode::VText(text) => format!("{:?}", text.text.as_str()),
            VNode::VList(list) => list.iter().map(markup).collect(),
            other => panic!("unexpected node {other:?}"),
        }
    }

    #[test]
    fn a_stat_makes_the_markup_the_panels_wrote_by_hand() {
        let before = html! {
            <div class="stat"><span class="label">{ "Seed" }</span>
                <span class="value" data-testid="seed-shown">{ 7u64 }</span>
                <span class="sub">{ "same seed, same run" }</span></div>
        };
        let after = stat(
            "Seed",
            7u64,
            Some("seed-shown"),
            Some("same seed, same run".into()),
        );
        assert_eq!(markup(&after), markup(&before));
        assert!(markup(&after).contains("data-testid=\"seed-shown\""));
    }

    #[test]
    fn a_stat_without_testid_or_sub_has_neither() {
        let before = html! {
            <div class="stat"><span class="label">{ "Received" }</span><span class="value">{ 3usize }</span></div>
        };
        let after = stat("Received", 3usize, None, None);
        assert_eq!(markup(&after), markup(&before));
        assert!(!markup(&after).contains("testid") && !markup(&after).contains("sub"));
    }

    #[test]
    fn a_titled_stat_carries_its_title_and_a_sub_of_several_nodes() {
        let before = html! {
            <div class="stat" title="why">
                <span class="label">{ "Refused" }</span>
                <span class="value" data-testid="live-refused">{ 2u64 }</span>
                <span class="sub">
                    { "a" }
                    <span class="reason">{ "b 2" }</span>
                </span>
            </div>
        };
        let after = stat_titled(
            "why",
            "Refused",
            2u64,
            Some("live-refused"),
            Some(html! { <>{ "a" }<span class="reason">{ "b 2" }</span></> }),
        );
        assert_eq!(markup(&after), markup(&before));
    }
}

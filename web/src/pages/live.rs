//! Live mode's page: this tab is a real node ([`crate::live`]); the simulator is a link away.

use super::{header, write_url, PageProps, Route};
use crate::params::PageSettings;
use yew::prelude::*;

/// Live mode.
#[function_component(LivePage)]
pub fn live_page(props: &PageProps) -> Html {
    let settings = &props.route.settings;
    let room = settings.live.clone().unwrap_or_default();
    let notices = use_state(|| props.route.notices.clone());
    {
        let settings = settings.clone();
        use_effect_with((), move |_| write_url(&settings));
    }
    let dismiss = {
        let notices = notices.clone();
        Callback::from(move |_| notices.set(Vec::new()))
    };
    // Back to the simulator with the settings it had (a plain link too, for a new tab).
    let home = PageSettings {
        live: None,
        conductor: None,
        code: None,
        ..settings.clone()
    };
    let home_href = home.to_query();
    let go_home = {
        let navigate = props.navigate.clone();
        Callback::from(move |e: MouseEvent| {
            if e.ctrl_key() || e.meta_key() || e.shift_key() || e.button() != 0 {
                return;
            }
            e.prevent_default();
            navigate.emit(Route {
                settings: home.clone(),
                notices: Vec::new(),
            });
        })
    };
    html! {
        <>
        { header("Live: this tab is a node; your other tabs are its peers.", format!("live · room {room}"), &notices, dismiss) }
        <crate::live::view::LiveView room={room.clone()} ice={settings.ice.clone()} conductor={settings.conductor.clone()} code={settings.code.clone()} />
        <footer class="foot">
            { "Live mode: this tab runs the same protocol code as the simulator, over WebRTC data channels. " }
            <a href={home_href} onclick={go_home} data-testid="live-home">{ "Back to the simulator" }</a>
        </footer>
        </>
    }
}

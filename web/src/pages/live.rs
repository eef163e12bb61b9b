//! Live mode's page: this tab is a real node ([`crate::live`]); the simulator is a link away.

use super::{header, write_url, PageProps};
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
    html! {
        <>
        { header("Live: this tab is a node; your other tabs are its peers.", format!("live · room {room}"), &notices, dismiss) }
        <crate::live::view::LiveView room={room.clone()} ice={settings.ice.clone()} conductor={settings.conductor.clone()} />
        <footer class="foot">
            { "Live mode: this tab runs the same protocol code as the simulator, over WebRTC data channels. " }
            <a href="?">{ "Back to the simulator" }</a>
        </footer>
        </>
    }
}

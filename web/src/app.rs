//! The page: a small router. It reads the settings from the URL once, shows the view they
//! choose, and replaces it when a page navigates to another. The round view is drawn here;
//! the protocol lab and live mode are parts, loaded the first time they are opened
//! ([`crate::part`]), so this router knows them by name only. Each page owns its own state
//! ([`crate::pages`]).

use crate::browser::install_panic_banner;
use crate::pages::round::RoundPage;
use crate::pages::Route;
use crate::params::{PageSettings, View};
use crate::part::PartHost;
use yew::prelude::*;

/// The page.
pub struct App {
    route: Route,
    /// Increases at every navigation: the new page is a new component, built from the route.
    visit: u32,
}

impl Component for App {
    type Message = Route;
    type Properties = ();

    fn create(_ctx: &Context<Self>) -> Self {
        let query = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let (settings, notices) = PageSettings::from_query(&query);
        display_modes(&settings);
        App {
            route: Route { settings, notices },
            visit: 0,
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, route: Route) -> bool {
        display_modes(&route.settings);
        self.route = route;
        self.visit += 1;
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let route = self.route.clone();
        let navigate = ctx.link().callback(|route: Route| route);
        let key = self.visit.to_string();
        match route.settings.view() {
            View::Round => html! { <RoundPage {key} {route} {navigate} /> },
            view => html! { <PartHost {key} {view} {route} {navigate} /> },
        }
    }
}

/// Presenter and embed modes are classes on `<html>`, so every part's page takes them from
/// the stylesheet alone.
fn display_modes(settings: &PageSettings) {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    else {
        return;
    };
    let classes = root.class_list();
    let _ = classes.toggle_with_force("present", settings.present);
    let _ = classes.toggle_with_force("embed", settings.embed);
}

/// Mounts the page on `element` (the round view's binary's `main`, and the browser tests).
pub fn start_on(element: web_sys::Element) {
    install_panic_banner();
    yew::Renderer::<App>::with_root(element).render();
}

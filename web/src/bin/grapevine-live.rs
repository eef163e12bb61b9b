//! Live mode, a part of the page loaded the first time it is opened (see
//! `grapevine_web::part`): this tab a real node over WebRTC, the room view, the conductor.

fn main() {
    grapevine_web::part::register::<grapevine_web::pages::live::LivePage>(
        grapevine_web::params::View::Live,
    );
}

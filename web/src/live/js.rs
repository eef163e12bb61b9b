//! What live mode takes from JavaScript: values in and out (through serde, the shape checked
//! on the way in), the clock, and the ICE servers as `RTCConfiguration` wants them. A leaf:
//! the transports, the signallers and the loop import it.

use grapevine_core::lab::Millis;
use grapevine_core::signal::IceServer;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// `value` as a plain JavaScript value (objects, not Maps; what `JSON.stringify` and
/// `postMessage` take).
pub(crate) fn to_js<T: Serialize>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

/// A JavaScript value read as `T`; `None` for any other shape (the value may be hostile).
pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue) -> Option<T> {
    serde_wasm_bindgen::from_value(value).ok()
}

/// Milliseconds since the epoch: the node's clock (tabs of one machine share it, so a rumor's
/// latency is its arrival time minus its birth time).
pub(super) fn now() -> Millis {
    Millis(js_sys::Date::now() as u64)
}

/// `RTCConfiguration.iceServers` for `servers`.
pub(super) fn ice_js(servers: &[IceServer]) -> JsValue {
    to_js(&servers)
}

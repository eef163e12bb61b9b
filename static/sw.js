// Grapevine's service worker: after one visit, the simulator and the protocol lab work with
// the network gone. At build time scripts/post-build writes BUILD (a hash of every file the
// build made) and FILES (the files the simulator and the lab need) below; a new build is a
// new sw.js, so the browser installs it, and when it takes over it deletes the old cache.
// Live mode is not cached: it needs its server (the page says so when offline).
const BUILD = "dev";
const FILES = [];
const CACHE = `grapevine-${BUILD}`;

self.addEventListener("install", (event) => {
  // Not skipWaiting: a page keeps the build it started with (the round view and the lab
  // part it loads must come from the same build) until every tab of the old one is closed.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys.filter((k) => k.startsWith("grapevine-") && k !== CACHE).map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

// The cached files, by path (FILES are relative to this worker's folder).
const scope = new URL(self.registration.scope);
const cached = new Set(FILES.map((f) => new URL(f, scope).pathname));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== scope.origin) return;
  if (request.mode === "navigate" && url.pathname === scope.pathname) {
    // The page, whatever its settings (they are in the query): this build's index.html.
    event.respondWith(fromCacheOrNetwork(new URL("./", scope).href, request));
  } else if (cached.has(url.pathname)) {
    event.respondWith(fromCacheOrNetwork(url.pathname, request));
  }
  // Everything else (the signaling server's /config and /health, live mode's part) goes to
  // the network as if there were no worker.
});

async function fromCacheOrNetwork(key, request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key);
  return hit || fetch(request);
}

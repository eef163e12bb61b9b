// Grapevine's service worker: after one visit, the simulator, the protocol lab and the lessons
// work with the network gone. At build time scripts/post-build writes BUILD (a hash of every
// file the build made) and FILES (the files the simulator, the lab and the lessons need)
// below; a new build is a new sw.js, so the browser installs it, and when it takes over it
// deletes the old cache.
// While there is a network the page is served as without a worker (content-hashed files from
// the cache, the rest revalidated); the cache answers only when the network is gone.
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
    event.respondWith(networkThenCache(request, new URL("./", scope).href));
  } else if (cached.has(url.pathname)) {
    event.respondWith(
      contentHashed(url.pathname) ? cacheThenNetwork(request, url.pathname) : networkThenCache(request, url.pathname),
    );
  }
  // Everything else (the signaling server's /config and /health, live mode's part) goes to
  // the network as if there were no worker.
});

// A content-hashed file (Trunk's NAME-HASH.ext, as grapevine serve tells them) never changes:
// the cached copy is the file.
function contentHashed(path) {
  return /-[0-9a-f]{12,16}(_bg)?\.[a-z0-9]+$/.test(path);
}

async function cacheThenNetwork(request, key) {
  const hit = await caches.match(key, { cacheName: CACHE });
  return hit || fetch(request);
}

// Anything unhashed (the page, the lab's part, the batch worker) comes from the network while
// there is one, revalidated as without a worker, so a new build is seen at once and the page
// never mixes builds; the cached copy only when the network is gone.
async function networkThenCache(request, key) {
  try {
    return await fetch(request);
  } catch (offline) {
    const hit = await caches.match(key, { cacheName: CACHE });
    if (hit) return hit;
    throw offline;
  }
}

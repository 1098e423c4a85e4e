// The kiosk's service worker: keeps the page and its scripts so that reloading the kiosk while
// the network or the service is away still opens the desk (the queue and the roster copy are
// in localStorage). Network first, so a deploy shows at the next load; the copy only when the
// network fails or is slow. API calls are never touched: their answers must be the service's.

const CACHE = "smk-kiosk-v1";
const SHELL = [
  "/kiosk",
  "/static/common/api.js",
  "/static/common/i18n.js",
  "/static/common/base.css",
  "/static/kiosk/kiosk.js",
  "/static/kiosk/kiosk.css",
  "/static/kiosk/roster.js",
  "/static/kiosk/queue.js",
  "/static/kiosk/sound.js",
  "/static/kiosk/camera.js",
];
const NETWORK_WAIT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow")), NETWORK_WAIT_MS)),
    ]);
    if (response.ok) cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (SHELL.includes(url.pathname)) event.respondWith(networkFirst(event.request));
});

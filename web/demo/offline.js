// Both pages register the site's service worker (sw.js, see there): once it is installed
// the whole site, Python and the model included, opens and works without a network.
// Registered once the page is ready, so its downloads never compete with the page's own.
// When a new build is found, the new worker caches what changed and waits; the page then
// offers to switch (reloading under the new version) instead of swapping files under a
// running page.

/**
 * @typedef {Object} OfflineStatus
 * @property {"unsupported" | "installing" | "ready" | "failed"} state
 * @property {string} [message]
 */

/**
 * Register sw.js (next to the page) and keep `statusElement` and `updateElement` (a
 * container with a button) up to date. Resolves with the registration, or null where
 * service workers are unavailable (an insecure origin, a private mode that blocks them).
 * `busy`: the page's work in progress that a switch to a new version must not throw away
 * (a promise that settles when it ends), or null; "Use it now" in another tab switches
 * this one too, and it reloads only once that work has ended.
 * @param {{ statusElement?: HTMLElement | null, updateElement?: HTMLElement | null, busy?: () => Promise<unknown> | null }} elements
 * @returns {Promise<ServiceWorkerRegistration | null>}
 */
export async function registerOffline({ statusElement = null, updateElement = null, busy = () => null } = {}) {
  const say = (/** @type {string} */ text, /** @type {string} */ state) => {
    if (!statusElement) return;
    statusElement.textContent = text;
    statusElement.dataset.state = state;
  };
  if (!("serviceWorker" in navigator) || !window.isSecureContext) {
    say("Offline use is not available here (this browser or address does not allow service workers).", "unsupported");
    return null;
  }
  let registration;
  try {
    registration = await navigator.serviceWorker.register("sw.js", { updateViaCache: "none" });
  } catch (err) {
    say(`Offline use is not available: the service worker could not be registered (${messageOf(err)}).`, "failed");
    return null;
  }
  const controlled = Boolean(navigator.serviceWorker.controller);

  const reportReady = async () => {
    const status = await ask(registration.active, { type: "status" });
    if (status?.complete) {
      say(`Works offline: all ${status.files} files of this version are stored in this browser.`, "ready");
    }
  };

  /** @param {ServiceWorker} worker */
  const follow = (worker) => {
    if (!controlled && !registration.active) say("Storing the site in this browser for offline use…", "installing");
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) {
        offerUpdate(worker);
      } else if (worker.state === "activated" && !controlled) {
        reportReady();
      } else if (worker.state === "redundant" && registration.active === null) {
        say("Offline use is not available: storing the site failed (see the browser console).", "failed");
      }
    });
  };

  /**
   * Show the update line with `message`, and its button running `onclick` (hidden when null).
   * @param {string} message @param {(() => void) | null} onclick
   */
  const showUpdate = (message, onclick) => {
    if (!updateElement) return;
    const text = updateElement.querySelector("[data-update-text]");
    if (text) text.textContent = message;
    const button = updateElement.querySelector("button");
    if (button) {
      button.hidden = onclick === null;
      button.onclick = onclick;
    }
    updateElement.hidden = false;
  };

  /** @param {ServiceWorker} worker */
  const offerUpdate = async (worker) => {
    if (!updateElement) return;
    const changed = (await ask(worker, { type: "status" }))?.fetched ?? 0;
    showUpdate(`A new version of this site is ready (${changed} changed file${changed === 1 ? "" : "s"} downloaded).`,
      () => worker.postMessage({ type: "skip-waiting" }));
  };

  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // A new version took over (after "Use it now", here or in another tab): reload once,
    // onto its files; after the page's work in progress, if any.
    if (!controlled || reloading) return;
    reloading = true;
    const work = busy();
    if (!work) {
      location.reload();
      return;
    }
    showUpdate("A new version of this site is in use: this page reloads onto it when its work in progress ends.", null);
    work.finally(() => location.reload());
  });

  if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
  if (registration.installing) follow(registration.installing);
  registration.addEventListener("updatefound", () => {
    if (registration.installing) follow(registration.installing);
  });
  if (registration.active && !registration.installing) await reportReady();
  return registration;
}

/**
 * Ask a service worker something; its answer, or null (no worker, no answer in 5 s).
 * @param {ServiceWorker | null} worker @param {any} message @returns {Promise<any>}
 */
export function ask(worker, message) {
  if (!worker) return Promise.resolve(null);
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), 5000);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      resolve(event.data);
    };
    worker.postMessage(message, [channel.port2]);
  });
}

/** @param {unknown} err */
function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}

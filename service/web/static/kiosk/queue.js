// Scans waiting for the service, in the order they happened. Each is written to localStorage
// before it is sent, so a reload or a crash never loses one; each carries its nonce, so sending
// it again (after a timeout that did reach the service) never records it twice.

function storageItem(eventId) {
  return `smk.kiosk.queue.${eventId}`;
}

export class ScanQueue {
  constructor(eventId) {
    this.eventId = eventId;
  }

  /** The waiting scans, oldest first: [{nonce, badge_code, scanned_at}]. */
  items() {
    return JSON.parse(localStorage.getItem(storageItem(this.eventId)) || "[]");
  }

  get length() {
    return this.items().length;
  }

  add(scan) {
    const items = this.items();
    items.push(scan);
    // Throws when storage is full: the caller must know a scan could not be kept.
    localStorage.setItem(storageItem(this.eventId), JSON.stringify(items));
  }

  first() {
    return this.items()[0] ?? null;
  }

  remove(nonce) {
    const items = this.items().filter((scan) => scan.nonce !== nonce);
    localStorage.setItem(storageItem(this.eventId), JSON.stringify(items));
  }
}

/** What the service refused of the scans uploaded late, kept until the staff dismiss it. */
export class Refusals {
  constructor(eventId) {
    this.item = `smk.kiosk.refused.${eventId}`;
  }

  items() {
    return JSON.parse(localStorage.getItem(this.item) || "[]");
  }

  add(entry) {
    const items = this.items();
    items.push(entry);
    localStorage.setItem(this.item, JSON.stringify(items.slice(-50)));
  }

  clear() {
    localStorage.removeItem(this.item);
  }
}

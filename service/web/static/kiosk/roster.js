// The kiosk's copy of its event's roster, kept in localStorage so an offline scan still shows
// who it is, catches a repeat and says when a code is not on the list. It holds badge codes,
// names, titles, organizations and agendas: never phones or emails (they are dropped here even
// when the key may read them).

import { apiAll } from "/static/common/api.js";

/** What a scanner or a person typed, in the stored form (as service/badges.py does). */
export function normalizeCode(text) {
  const raw = String(text).replace(/[\s-]/g, "").toUpperCase();
  return raw.length === 10 ? `${raw.slice(0, 5)}-${raw.slice(5)}` : raw;
}

function storageItem(eventId) {
  return `smk.kiosk.roster.${eventId}`;
}

function localItem(eventId) {
  return `smk.kiosk.seen.${eventId}`;
}

// The roster copy is rewritten at most this often; the small record of check-ins seen here is
// written at once, so a reload never forgets a repeat.
const SAVE_AFTER_MS = 2000;

/** Only what the door needs: no phone, no email. */
function keep(participant, agenda) {
  return {
    id: participant.id,
    badge_code: participant.badge_code,
    party: participant.party,
    people: (participant.people || []).map((p) => ({
      name: p.name,
      title: p.title ?? null,
      // Per-person badges (when the service gives them) are scanned like the party's.
      badge_code: p.badge_code ?? null,
    })),
    checked_in_at: participant.checked_in_at,
    agenda: (agenda || []).map((m) => ({
      slot: m.slot,
      start: m.start,
      end: m.end,
      table: m.table,
      status: m.status,
      counterpart: {
        participant_id: m.counterpart?.participant_id,
        name_zh: m.counterpart?.name_zh,
        name_en: m.counterpart?.name_en ?? null,
        designation: m.counterpart?.designation ?? null,
      },
    })),
  };
}

/** Every participant's published meetings by participant id, all from one schedule: pages read
 * while another schedule was being published are read again. */
async function agendasOf(eventId) {
  const params = { event_id: eventId };
  for (let attempt = 1; ; attempt++) {
    const items = await apiAll("/v1/events/{event_id}/agendas", { params });
    const schedules = new Set(items.map((item) => item.schedule_id));
    if (schedules.size <= 1 || attempt === 3) {
      return new Map(items.map((item) => [item.participant_id, item.meetings]));
    }
  }
}

export class Roster {
  constructor(eventId) {
    this.eventId = eventId;
    const saved = JSON.parse(localStorage.getItem(storageItem(eventId)) || "null");
    this.fetchedAt = saved?.fetched_at ?? null;
    this.participants = saved?.participants ?? [];
    // Check-ins seen at this kiosk since the last full refresh: badge code -> time.
    this.local = JSON.parse(localStorage.getItem(localItem(eventId)) || "{}");
    this.saveTimer = null;
    this.index();
  }

  index() {
    this.byCode = new Map();
    for (const p of this.participants) {
      if (p.badge_code) this.byCode.set(p.badge_code, { participant: p, person: null });
      for (const person of p.people) {
        if (person.badge_code) this.byCode.set(person.badge_code, { participant: p, person });
      }
    }
  }

  save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const data = { fetched_at: this.fetchedAt, participants: this.participants };
    try {
      localStorage.setItem(storageItem(this.eventId), JSON.stringify(data));
    } catch {
      // Storage full: the queue matters more than the roster copy; keep it in memory.
    }
  }

  saveSoon() {
    if (this.saveTimer === null) this.saveTimer = setTimeout(() => this.save(), SAVE_AFTER_MS);
  }

  saveLocal() {
    try {
      localStorage.setItem(localItem(this.eventId), JSON.stringify(this.local));
    } catch {
      // Storage full: the queue (written first) is what must not be lost.
    }
  }

  get size() {
    return this.participants.length;
  }

  /** Fetch the roster and every agenda again; throws ApiError when the service is away. */
  async refresh() {
    const params = { event_id: this.eventId };
    const participants = await apiAll("/v1/events/{event_id}/participants", { params });
    const agendas = await agendasOf(this.eventId);
    this.participants = participants.map((p) => keep(p, agendas.get(p.id)));
    this.fetchedAt = new Date().toISOString();
    // A local mark the server now knows about is no longer needed.
    for (const p of this.participants) {
      if (p.checked_in_at && p.badge_code) delete this.local[p.badge_code];
    }
    this.index();
    this.save();
    this.saveLocal();
  }

  /** {participant, person} for a badge code, or null when it is not on the list. */
  find(code) {
    return this.byCode.get(normalizeCode(code)) ?? null;
  }

  /** When this badge's party was checked in, as the server said or as this kiosk saw. */
  checkedInAt(code) {
    const found = this.find(code);
    if (!found) return null;
    const local = this.local[normalizeCode(code)] ?? null;
    const known = found.participant.checked_in_at;
    if (known && local) return new Date(known) <= new Date(local) ? known : local;
    return known || local;
  }

  /** Remember an unconfirmed check-in seen at this kiosk. */
  markLocal(code, scannedAt) {
    const normal = normalizeCode(code);
    if (!(normal in this.local)) {
      this.local[normal] = scannedAt;
      this.saveLocal();
    }
  }

  /** Take the server's answer for a participant: its check-in time and agenda. */
  confirm(code, participant, agenda) {
    const normal = normalizeCode(code);
    if (participant.checked_in_at && this.local[normal] !== participant.checked_in_at) {
      this.local[normal] = participant.checked_in_at;
      this.saveLocal();
    }
    const at = this.participants.findIndex((p) => p.id === participant.id);
    if (at >= 0) {
      this.participants[at] = keep(participant, agenda);
    } else {
      this.participants.push(keep(participant, agenda));
    }
    this.index();
    this.saveSoon();
  }

  /** Offline search: names in either script, party names, designations, badge codes. */
  search(text, limit = 10) {
    const needle = text.trim().toLowerCase();
    if (!needle) return [];
    const hits = [];
    for (const p of this.participants) {
      const fields = [
        p.party?.name_zh,
        p.party?.name_en,
        p.party?.designation,
        p.badge_code,
        ...p.people.map((person) => person.name),
      ];
      if (fields.some((f) => f && f.toLowerCase().includes(needle))) hits.push(p);
      if (hits.length >= limit) break;
    }
    return hits;
  }
}

// The seats picked on an event's map, kept for this tab: a visitor who is
// sent to sign in before holding them finds them picked again on return.
// The checkout page forgets them, since the hold has them then. Storage
// that is full or switched off only means the picks are not kept.

const key = (eventId) => `rt-picks:${eventId}`;

// Seat ids, in the order they were saved.
export function loadPicks(eventId) {
  try {
    const ids = JSON.parse(sessionStorage.getItem(key(eventId)) || '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

export function savePicks(eventId, seatIds) {
  try {
    if (seatIds.length) sessionStorage.setItem(key(eventId), JSON.stringify(seatIds));
    else sessionStorage.removeItem(key(eventId));
  } catch { /* not kept */ }
}

export function clearPicks(eventId) {
  savePicks(eventId, []);
}

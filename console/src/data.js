// Lookups several screens share, fetched once per session: queues and (for managers) agents.

import { get } from './api.js';

let queues = null;
let agents = null;

/** The tenant's queues `[{id, name, waiting, ...}]`. */
export async function loadQueues(fresh = false) {
  if (!queues || fresh) queues = get('/v1/queues').then((d) => d.items).catch(() => []);
  return queues;
}

/** Every user with presence and load (managers and admins; [] for agents). */
export async function loadAgents(fresh = false) {
  if (!agents || fresh) agents = get('/v1/agents').then((d) => d.items).catch(() => []);
  return agents;
}

/** Forgets the lookups (sign-out). */
export function forget() {
  queues = null;
  agents = null;
}

export const nameOf = (list, id) => list.find((x) => x.id === id || x.user_id === id)?.name || id;

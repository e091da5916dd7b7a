import { readJsonFile, writeJsonFileAtomic } from '../files.js';
import type { AlertEvent } from '../shared/alert.js';
import type { IncidentView } from './blocks/alert.js';

/** An incident's one Slack message, as kept across restarts so a later click still updates it. */
export interface SavedIncident {
  key: string;
  channel: string;
  ts: string;
  alert: AlertEvent;
  view: IncidentView;
}

export interface IncidentStore {
  load(): Promise<SavedIncident[]>;
  save(incidents: SavedIncident[]): Promise<void>;
}

interface FileShape {
  version: 1;
  incidents: SavedIncident[];
}

/**
 * One JSON file in STATE_DIR, replaced atomically on every save. A missing, torn or hand-broken
 * file loads as empty: losing the map only means clicks on old alerts answer below the message.
 */
export function fileIncidentStore(path: string): IncidentStore {
  return {
    async load() {
      const data = await readJsonFile<Partial<FileShape>>(path);
      if (data?.version !== 1 || !Array.isArray(data.incidents)) return [];
      return data.incidents.filter(isSavedIncident);
    },
    async save(incidents) {
      const data: FileShape = { version: 1, incidents };
      await writeJsonFileAtomic(path, data);
    },
  };
}

function isSavedIncident(v: unknown): v is SavedIncident {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  const alert = o.alert as Record<string, unknown> | null | undefined;
  const view = o.view as Record<string, unknown> | null | undefined;
  return (
    typeof o.key === 'string' &&
    typeof o.channel === 'string' &&
    typeof o.ts === 'string' &&
    typeof alert === 'object' &&
    alert !== null &&
    typeof alert.kind === 'string' &&
    typeof alert.title === 'string' &&
    Array.isArray(alert.sampleLines) &&
    Array.isArray(alert.explainedBy) &&
    typeof view === 'object' &&
    view !== null &&
    typeof view.repeats === 'number' &&
    Array.isArray(view.actions)
  );
}

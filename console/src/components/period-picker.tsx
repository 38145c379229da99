import { useState } from 'preact/hooks';

import { type Period, type Preset, periodProblem, presetPeriod } from '../lib/period';

const presets: { value: Exclude<Preset, 'custom'>; label: string }[] = [
  { value: '4w', label: 'Last 4 weeks' },
  { value: '12w', label: 'Last 12 weeks' },
  { value: '26w', label: 'Last 26 weeks' },
  { value: '52w', label: 'Last 52 weeks' },
];

/** A preset period, or two dates; applies a custom period only once it makes sense. */
export function PeriodPicker(props: { period: Period; onChange: (p: Period) => void }) {
  const [draft, setDraft] = useState(props.period);
  const problem = draft.preset === 'custom' ? periodProblem(draft) : null;
  return (
    <form
      class="filters"
      aria-label="Period"
      onSubmit={(e) => {
        e.preventDefault();
        if (problem === null) {
          props.onChange(draft);
        }
      }}
    >
      <div class="field">
        <label for="period-preset">Period</label>
        <select
          id="period-preset"
          value={draft.preset}
          onChange={(e) => {
            const value = e.currentTarget.value as Preset;
            const next = value === 'custom' ? { ...draft, preset: value } : presetPeriod(value, Date.now());
            setDraft(next);
            if (value !== 'custom') {
              props.onChange(next);
            }
          }}
        >
          {presets.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
          <option value="custom">Dates…</option>
        </select>
      </div>
      {draft.preset === 'custom' && (
        <>
          <div class="field">
            <label for="period-from">First day</label>
            <input
              id="period-from"
              type="date"
              value={draft.from}
              onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })}
            />
          </div>
          <div class="field">
            <label for="period-to">Last day</label>
            <input
              id="period-to"
              type="date"
              value={draft.to}
              onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })}
            />
          </div>
          <button type="submit" disabled={problem !== null}>
            Show
          </button>
          {problem !== null && (
            <p class="error" role="alert">
              {problem}
            </p>
          )}
        </>
      )}
    </form>
  );
}

// The funnel's stages as the API defines them (docs/api.md, "The funnel, precisely").

export const stages = ['leads', 'replied', 'booked', 'held', 'customers'] as const;
export type Stage = (typeof stages)[number];
export type FunnelCounts = Record<Stage, number>;

export const stageLabels: Record<Stage, string> = {
  leads: 'Leads',
  replied: 'Replied',
  booked: 'Meeting booked',
  held: 'Meeting held',
  customers: 'Customers',
};

export interface StageRow {
  stage: Stage;
  label: string;
  count: number;
  /** share of the leads that reached the stage (0..1), null for no leads */
  ofLeads: number | null;
  /** the count over the stage before's (may exceed 1: stages are not nested), null at the top */
  ofPrevious: number | null;
}

export function funnelRows(counts: FunnelCounts): StageRow[] {
  return stages.map((stage, i) => {
    const previous = i > 0 ? counts[stages[i - 1] as Stage] : null;
    return {
      stage,
      label: stageLabels[stage],
      count: counts[stage],
      ofLeads: counts.leads > 0 ? counts[stage] / counts.leads : null,
      ofPrevious: previous == null ? null : previous > 0 ? counts[stage] / previous : null,
    };
  });
}

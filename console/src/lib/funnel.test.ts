import { describe, expect, it } from 'vitest';

import { funnelRows } from './funnel';

describe('funnel', () => {
  it('gives each stage its share of the leads and of the stage before', () => {
    const rows = funnelRows({ leads: 5, replied: 2, booked: 4, held: 0, customers: 2 });
    expect(rows.map((r) => r.stage)).toEqual(['leads', 'replied', 'booked', 'held', 'customers']);
    expect(rows[0]).toMatchObject({ label: 'Leads', count: 5, ofLeads: 1, ofPrevious: null });
    expect(rows[1]).toMatchObject({ count: 2, ofLeads: 0.4, ofPrevious: 0.4 });
    // stages are not nested: booked may exceed replied
    expect(rows[2]).toMatchObject({ count: 4, ofPrevious: 2 });
    // nothing held: customers have no previous share
    expect(rows[4]).toMatchObject({ count: 2, ofLeads: 0.4, ofPrevious: null });
  });

  it('has no shares without leads', () => {
    const rows = funnelRows({ leads: 0, replied: 0, booked: 0, held: 0, customers: 0 });
    expect(rows.every((r) => r.ofLeads === null)).toBe(true);
  });
});

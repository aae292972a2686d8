// Words for an alert on the workstation: time left or OVERDUE in words (never colour alone), on the
// hub's clock moved on by this computer's, and the state, routing and responsibility.
import { describe, expect, it } from 'vitest';
import { alertStateText, hubNow, responsibleText, routingText, timeLeftText } from '../../renderer/hub/alertText.ts';

const T = Date.parse('2026-03-12T12:00:00Z');

describe('alert words', () => {
  it('says the time left, OVERDUE once the deadline passed, and that an alert without one holds until acknowledged', () => {
    expect(timeLeftText('2026-03-12T12:45:00Z', T)).toEqual({ text: '45 min left', overdue: false });
    expect(timeLeftText('2026-03-12T09:00:00Z', T)).toEqual({ text: 'OVERDUE by 3 h', overdue: true });
    expect(timeLeftText(null, T)).toEqual({ text: 'no deadline: holds until acknowledged', overdue: false });
  });

  it("counts on the hub's clock as answered, moved on by the time since here (a wrong clock here hides no deadline)", () => {
    // This computer is 2 h slow; 10 min passed since the hub answered.
    const localAnswered = T - 2 * 3_600_000;
    expect(hubNow('2026-03-12T12:00:00Z', localAnswered, localAnswered + 600_000)).toBe(T + 600_000);
    expect(hubNow(null, 0, 1234)).toBe(1234);
    expect(hubNow('not a time', 0, 1234)).toBe(1234);
  });

  it('names who acknowledged, where it was routed and why, and who is responsible after an escalation', () => {
    expect(alertStateText({ state: 'open', acknowledgement: null })).toBe('Open: not acknowledged yet');
    expect(alertStateText({ state: 'acknowledged', acknowledgement: { by: { name: 'Dr Eve Duty', role: 'radiologist', username: 'eve' }, at: '2026-03-12T12:00:00Z', actionPlan: 'x' } }))
      .toMatch(/^Acknowledged by Dr Eve Duty at 12 Mar 2026 \d\d:00$/);
    expect(routingText({ team: null, routingReason: 'Requester unknown.' })).toBe("The duty radiologist's queue: Requester unknown.");
    expect(routingText({ team: { id: 'ED', name: 'Emergency Department' }, routingReason: null })).toBe('Team Emergency Department');
    expect(responsibleText({ responsible: { to: 'requester', label: "the requester's team" }, rung: 0, escalated: false, team: { id: 'ED', name: 'Emergency Department' } }))
      .toBe("the requester's team (team Emergency Department)");
    expect(responsibleText({ responsible: { to: 'duty-radiologist', label: 'the duty radiologist' }, rung: 1, escalated: true, team: null }))
      .toBe('the duty radiologist, escalated (rung 2 of its ladder)');
  });
});

/** The `manual` adapter: Dialtone never buys; a person buys in the admin center and runs go on by themselves. */
import { ADMIN_CENTER_PURCHASE_PATH, ProcurementError, procurementFailure } from './procurement';
import type { LicenseProcurement, ProcurementDescription, PurchaseResult } from './procurement';

export class ManualProcurement implements LicenseProcurement {
  readonly kind = 'manual' as const;

  describe(shortfall: number): Promise<ProcurementDescription> {
    return Promise.resolve({
      kind: 'manual',
      canPurchase: false,
      shortfall,
      instructions:
        `Buy ${shortfall} "Microsoft Teams Phone Resource Account" license${shortfall === 1 ? '' : 's'} ($0 within the free allocation): ` +
        `${ADMIN_CENTER_PURCHASE_PATH}. Direct and EA customers have no purchase API ` +
        '(https://learn.microsoft.com/microsoftteams/teams-add-on-licensing/virtual-user); the wait goes on by itself once they are free.',
    });
  }

  purchase(): Promise<PurchaseResult> {
    return Promise.reject(procurementFailure(ProcurementError.PurchaseNotSupported,
      `This worker buys no licenses (DIALTONE_LICENSE_PROCUREMENT=manual): buy them in the ${ADMIN_CENTER_PURCHASE_PATH}, ` +
      'or, for a CSP partner, set DIALTONE_LICENSE_PROCUREMENT=partner-center.'));
  }
}

/* twin_access.c - access security for the twin's records.
 *
 * The twin's invariant (every setpoint record holds what the model uses)
 * needs the records' configuration fields out of clients' reach: DISA,
 * DISP, OROC, DOL/OMSL, FLNK, SCAN, DRVH/DRVL, PROC and the rest are all
 * access-security level 1, the value field VAL level 0. The access
 * security file is loaded by st.cmd (asSetFilename) before iocInit; after iocInit the audit below
 * checks that whatever file was loaded grants no client write access at
 * level 1 and traps every level-0 write (the write trap, twin_trap.c,
 * only sees writes under TRAPWRITE). */
#define USE_TYPED_RSET
#include <stdio.h>
#include <string.h>

#include <asLib.h>
#include <dbAccess.h>
#include <dbStaticLib.h>
#include <ellLib.h>

#include "twin_shim.h"

int twin_access_audit(char *why, size_t why_len)
{
    if (!asActive || !pasbase) {
        snprintf(why, why_len, "access security is not active (no access security file loaded before iocInit)");
        return -1;
    }
    int groups = 0;
    for (ASG *asg = (ASG *)ellFirst((ELLLIST *)&pasbase->asgList); asg; asg = (ASG *)ellNext(&asg->node)) {
        groups++;
        for (ASGRULE *r = (ASGRULE *)ellFirst(&asg->ruleList); r; r = (ASGRULE *)ellNext(&r->node)) {
            if (r->access != asWRITE)
                continue;
            if (r->level >= 1) {
                snprintf(why, why_len,
                         "ASG(%s) has RULE(%d,WRITE): clients could write configuration fields "
                         "(DISA, DISP, DRVH, FLNK, ...); write rules must be level 0",
                         asg->name, r->level);
                return -1;
            }
            if (!(r->trapMask & AS_TRAP_WRITE)) {
                snprintf(why, why_len,
                         "ASG(%s) has RULE(0,WRITE) without TRAPWRITE: the twin's write checks "
                         "and put log need TRAPWRITE on every write rule",
                         asg->name);
                return -1;
            }
        }
    }
    if (!groups) {
        snprintf(why, why_len, "the access security file defines no ASG");
        return -1;
    }
    return 0;
}

/* Whether asLib lets `user` on `host` read the channel `pv` (record or
 * record.FIELD). QSRV2 checks access security for puts only; the PVA guard
 * asks here before a get or a monitor. Names that are not records (group
 * PVs) are QSRV2's to decide: 1. */
int twin_access_can_read(const char *pv, const char *user, const char *host)
{
    if (!asActive)
        return 1;
    DBADDR addr;
    if (dbNameToAddr(pv, &addr))
        return 1;
    dbCommon *prec = addr.precord;
    dbFldDes *fld = addr.pfldDes;
    ASCLIENTPVT client = NULL;
    char host_copy[256];
    snprintf(host_copy, sizeof(host_copy), "%s", host ? host : "");
    /* the peer is "ip:port": asLib compares host names without the port */
    char *colon = strrchr(host_copy, ':');
    if (colon)
        *colon = 0;
    if (asAddClient(&client, prec->asp, fld ? fld->as_level : 0, (char *)(user ? user : ""), host_copy))
        return 0;
    int ok = asCheckGet(client);
    asRemoveClient(&client);
    return ok ? 1 : 0;
}

/* readiness.c - the rules of /readyz (readiness.h says why they are these). */
#include "readiness.h"

bool readiness_decide(const struct readiness_facts *facts, const char **reason_out)
{
    const char *reason = NULL;
    if (facts->stopping) {
        reason = "stopping";
    } else if (facts->starting) {
        reason = "starting";
    } else if (!facts->database_reachable || !facts->writers_up) {
        reason = "database unreachable";
    } else if (!facts->schema_compatible) {
        reason = "schema incompatible";
    } else if (facts->require_connectors && facts->instances_failed > 0) {
        reason = "a connector instance failed (readiness.connectors: require)";
    } else if (facts->require_connectors && facts->scorers_failed > 0) {
        reason = "a scorer failed (readiness.connectors: require)";
    }
    if (reason_out != NULL) {
        *reason_out = reason;
    }
    return reason == NULL;
}

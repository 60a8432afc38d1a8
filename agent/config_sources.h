/* The probe and access-log sections of slic-agent's configuration (see config.h). Internal to
 * agent/config.c. */
#ifndef SLIC_AGENT_CONFIG_SOURCES_H
#define SLIC_AGENT_CONFIG_SOURCES_H

#include "config.h"
#include "yamlconf.h"

/* Read `probes:` / `access_logs:` from the root mapping into c, replacing what was there.
 * 0, or SLIC_ECONFIG/SLIC_EMISSING with err naming file, line and key, or SLIC_ENOMEM. */
int agent_config_load_probes(const slic_yaml_node *root, struct agent_config *c,
                             struct slic_errmsg *err);
int agent_config_load_tails(const slic_yaml_node *root, struct agent_config *c,
                            struct slic_errmsg *err);

/* Frees c's probes and tails. */
void agent_config_sources_fini(struct agent_config *c);

#endif

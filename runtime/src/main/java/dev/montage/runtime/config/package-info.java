/**
 * Configuration profiles: YAML or JSON files that say on which device and in which dtype to compute, where the
 * weights are, which component fills each slot, the defaults of a request and component options, beside sections a
 * host of the runtime owns ({@link dev.montage.runtime.config.ProfileSection}).
 * {@link dev.montage.runtime.config.ProfileResolver} layers them (built-in defaults, profiles in order,
 * {@code MONTAGE_<SECTION>_<KEY>} environment variables, settings by dotted key) and checks the result once,
 * reporting every problem with its file, line, key and what was expected;
 * {@link dev.montage.runtime.pipeline.MontagePipeline} builds pipelines from them. The keys are the components of
 * {@link dev.montage.runtime.config.Profile} and its section records in snake case; the built-in defaults
 * ({@code defaults.yaml} in this package) list them all with their meaning.
 */
package dev.montage.runtime.config;

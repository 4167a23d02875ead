/** Depth condition plugin: depth map preprocessing and ControlNet binding. */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.controlnet.depth;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;

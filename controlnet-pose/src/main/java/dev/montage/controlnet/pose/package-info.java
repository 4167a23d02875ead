/** Pose condition plugin: OpenPose skeleton rendering and ControlNet binding. */
@BuiltFor(MontageApi.COMPATIBLE_RANGE)
package dev.montage.controlnet.pose;

import dev.montage.api.MontageApi;
import dev.montage.api.spi.BuiltFor;

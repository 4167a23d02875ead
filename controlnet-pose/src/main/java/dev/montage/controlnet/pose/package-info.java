/** Pose condition plugin: OpenPose skeleton rendering and ControlNet binding. */
package dev.montage.controlnet.pose;

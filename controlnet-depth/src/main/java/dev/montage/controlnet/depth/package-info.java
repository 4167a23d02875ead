/** Depth condition plugin: depth map preprocessing and ControlNet binding. */
package dev.montage.controlnet.depth;

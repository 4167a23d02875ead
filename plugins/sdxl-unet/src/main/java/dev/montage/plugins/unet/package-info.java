/** SDXL UNet with its attention processors, and the SDXL ControlNet network. */
package dev.montage.plugins.unet;

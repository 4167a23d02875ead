package dev.montage.api;

import java.util.Arrays;

/**
 * A control's input given as a data file rather than a picture, e.g. OpenPose JSON keypoints for {@code pose}: the
 * bytes as read (the host reads files and request fields, so condition plugins never open paths) and where they came
 * from, which the condition plugin names in its errors.
 *
 * @param bytes  the file's content, copied in and out so a control cannot change after it was checked
 * @param source where the bytes came from, e.g. a file name or a request field such as {@code controls[0].keypoints}
 */
public record ControlData(byte[] bytes, String source) {

    /**
     * @throws IllegalArgumentException naming the field that is missing
     */
    public ControlData {
        if (bytes == null) {
            throw new IllegalArgumentException("control.data.bytes is required"
                    + (source == null ? "" : " (" + source + ")"));
        }
        if (source == null || source.isBlank()) {
            throw new IllegalArgumentException("control.data.source is required: the file or field the data came from");
        }
        bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ControlData d && source.equals(d.source) && Arrays.equals(bytes, d.bytes);
    }

    @Override
    public int hashCode() {
        return 31 * source.hashCode() + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "ControlData[" + source + ", " + bytes.length + " bytes]";
    }
}

package dev.kiln.runtime.cuda;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A device address handed to a JavaCPP binding. Kiln keeps device addresses as {@code long}s
 * (offsets are arithmetic); this wraps one, without owning the memory, for the calls that take a
 * {@link Pointer}.
 */
final class DevicePointer extends Pointer {
  DevicePointer(long address) {
    this.address = address;
  }

  /** The address as a {@link FloatPointer}, for the cuBLAS calls that are typed so. */
  static FloatPointer floats(long address) {
    return new FloatPointer(new DevicePointer(address));
  }
}

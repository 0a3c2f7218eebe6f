package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** On a machine without a GPU (CI), best() falls back to the CPU with one log line saying why. */
class DeviceTest {
  @Test
  void bestFallsBackToTheCpuWithOneLogLine() {
    List<String> lines = new ArrayList<>();
    Logger jul = Logger.getLogger("dev.kiln.runtime");
    Handler capture = new Handler() {
      @Override public void publish(LogRecord r) {
        lines.add(r.getMessage());
      }

      @Override public void flush() {}

      @Override public void close() {}
    };
    jul.addHandler(capture);
    Device.announced = false;
    try {
      assertSame(Device.cpu(), Device.best());
      assertSame(Device.cpu(), Device.best());
    } finally {
      jul.removeHandler(capture);
    }
    long announcements = lines.stream().filter(l -> l.startsWith("Kiln: running on the CPU (")).count();
    assertTrue(announcements == 1, "expected one line saying why the CPU is used, got " + lines);
    System.out.println(lines.get(0));
    assertTrue(Device.cudaStatus().startsWith("CUDA not available: "), Device.cudaStatus());
    var e = assertThrows(IllegalStateException.class, Device::cuda);
    assertTrue(e.getMessage().startsWith("Device.cuda(): " + Device.cudaStatus()), e.getMessage());
    assertTrue(lines.get(0).contains(Device.cudaStatus()), "the log line says why: " + lines.get(0));
  }

  @Test
  void memoryStatisticsAreForCudaDevicesOnly() {
    var e = assertThrows(IllegalStateException.class, () -> Device.cpu().memoryAllocated());
    assertTrue(e.getMessage().startsWith("Device.memoryAllocated(): only a CUDA device has a memory allocator; this is the cpu"),
        e.getMessage());
    assertThrows(IllegalStateException.class, () -> Device.cpu().emptyCache());
    assertThrows(IllegalStateException.class, () -> Device.cpu().maxMemoryAllocated());
    assertThrows(IllegalStateException.class, () -> Device.cpu().memoryReserved());
    assertThrows(IllegalStateException.class, () -> Device.cpu().resetPeakMemoryStats());
  }
}

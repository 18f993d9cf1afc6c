package lakehouse_jobs.catalog;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.delta.DeltaLog$;

/** The filesystem side of the catalog: what a table folder is, listing, deleting (with Delta's log cache dropped). */
final class Folders {
  private Folders() {}

  static boolean isDeltaTable(Path dir) {
    Path log = dir.resolve("_delta_log");
    if (!Files.isDirectory(log)) return false;
    try (Stream<Path> entries = Files.list(log)) {
      return entries.anyMatch(p -> p.getFileName().toString().endsWith(".json") || p.getFileName().toString().contains(".checkpoint"));
    } catch (IOException e) {
      return false;
    }
  }
  static void invalidate(Path dir) {
    try {
      DeltaLog$.MODULE$.invalidateCache(SparkSession.active(), new org.apache.hadoop.fs.Path(dir.toString()));
    } catch (RuntimeException e) {
      // no active session: nothing cached
    }
  }
  static void deleteTree(Path dir) {
    invalidate(dir);
    if (!Files.exists(dir)) return;
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
    } catch (IOException e) {
      throw new IllegalStateException("Could not delete " + dir + ": " + e.getMessage());
    }
  }
  static List<Path> children(Path dir) {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) return out;
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, Files::isDirectory)) {
      for (Path p : stream) out.add(p);
    } catch (IOException e) {
      return out;
    }
    out.sort(Comparator.comparing(p -> p.getFileName().toString()));
    return out;
  }
}

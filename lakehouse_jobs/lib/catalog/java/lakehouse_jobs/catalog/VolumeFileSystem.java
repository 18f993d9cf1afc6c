package lakehouse_jobs.catalog;

import java.io.File;
import java.io.IOException;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * The local file system, with Unity Catalog volumes mapped under the lakehouse root:
 * {@code /Volumes/<catalog>/<schema>/<volume>/x} is {@code <root>/volumes/<catalog>/<schema>/<volume>/x}
 * (the first three parts lowercased, as lib/catalog/names.py maps them), so {@code spark.read.csv("/Volumes/...")},
 * {@code read_files} and writes to a volume work unchanged. Every other path is the local file it names.
 * The root comes from {@code lakehouse.root} in the Hadoop configuration (set with the session) and
 * {@link #setRoot} (a run bound to another root). A path that leaves the volumes folder is refused.
 */
public class VolumeFileSystem extends LocalFileSystem {
  private static volatile String root;

  public VolumeFileSystem() {
    super(new Raw());
  }

  /** The lakehouse root volumes resolve under from now on (all sessions of this JVM). */
  public static void setRoot(String value) {
    root = value;
  }

  /**
   * The same mapping for Hadoop's FileContext API ({@code fs.AbstractFileSystem.file.impl}), which
   * Delta's log store writes commits through; shaped like Hadoop's own LocalFs / RawLocalFs.
   */
  public static final class Context extends ChecksumFs {
    public Context(java.net.URI uri, Configuration conf) throws IOException, java.net.URISyntaxException {
      super(new RawContext(uri, conf));
    }
  }

  static final class RawContext extends DelegateToFileSystem {
    RawContext(java.net.URI uri, Configuration conf) throws IOException, java.net.URISyntaxException {
      super(uri, new Raw(), conf, "file", false);
    }
  }

  static final class Raw extends RawLocalFileSystem {
    @Override
    public void initialize(java.net.URI uri, Configuration conf) throws IOException {
      super.initialize(uri, conf);
      String configured = conf.get("lakehouse.root");
      if (root == null && configured != null && !configured.isEmpty()) root = configured;
    }

    private static boolean isVolume(Path path) {
      String text = Path.getPathWithoutSchemeAndAuthority(path).toUri().getPath();
      return text != null && (text.equals("/Volumes") || text.startsWith("/Volumes/"));
    }

    /** Statuses keep the name they were asked by (Spark matches listed files to the folder it asked for). */
    @Override
    public FileStatus getFileStatus(Path f) throws IOException {
      FileStatus status = super.getFileStatus(f);
      if (isVolume(f)) status.setPath(makeQualified(f));
      return status;
    }

    @Override
    public FileStatus[] listStatus(Path f) throws IOException {
      FileStatus[] all = super.listStatus(f);
      if (!isVolume(f)) return all;
      String mapped = pathToFile(f).getPath();
      String asked = makeQualified(f).toString();
      for (FileStatus status : all) {
        String local = Path.getPathWithoutSchemeAndAuthority(status.getPath()).toUri().getPath();
        if (local.startsWith(mapped)) status.setPath(new Path(asked + local.substring(mapped.length())));
      }
      return all;
    }

    @Override
    public File pathToFile(Path path) {
      File file = super.pathToFile(path);
      String text = file.getPath();
      if (!(text.equals("/Volumes") || text.startsWith("/Volumes/")) || root == null) return file;
      String[] parts = text.substring("/Volumes/".length() > text.length() ? text.length() : "/Volumes/".length()).split("/");
      StringBuilder mapped = new StringBuilder(root).append("/volumes");
      for (int i = 0; i < parts.length; i++) {
        if (parts[i].isEmpty()) continue;
        if (parts[i].equals("..")) throw new IllegalArgumentException("a volume path may not contain '..': " + text);
        mapped.append('/').append(i < 3 ? parts[i].toLowerCase(Locale.ROOT) : parts[i]);
      }
      return new File(mapped.toString());
    }
  }
}
